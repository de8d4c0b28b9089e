import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SURFACES } from '../../src/surfaces.js'
import { OPERATORS, bearer } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { runtimeHeaders } from '../helpers/runtime.js'

/**
 * "Let discovery explain, let runtime authenticate", checked by behaviour for every route the server
 * registers: open routes answer without credentials; operator routes refuse no credentials and a
 * valid Mecha key; runtime routes refuse no credentials and a valid operator token.
 */
let h: GatewayHarness
let runtime: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('alpha', { listed: true })
  runtime = await h.issue('alpha')
})
afterAll(async () => { await h.close() })

function concrete(url: string): string {
  return url.replace(':keyId', runtime.keyId).replace(':id', 'alpha').replace(':name', 'message').replace(/\*$/, 'index.html')
}

async function request(method: string, url: string, headers: Record<string, string>): Promise<{ status: number; reason?: string }> {
  const body = method === 'POST' || method === 'PATCH' ? '{}' : undefined
  const res = await fetch(`${h.base}${url}`, { method, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body } : {}) })
  const text = await res.text()
  let reason: string | undefined
  try {
    reason = (JSON.parse(text) as { reason?: string }).reason
  } catch {
    reason = undefined
  }
  return { status: res.status, reason }
}

describe('the route boundary', () => {
  const routes = (): { method: string; url: string; access: string }[] =>
    h.t.app.classifiedRoutes.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS')

  it('every registered route is classified, and every declared surface is registered', () => {
    expect(routes().length).toBeGreaterThan(25)
    for (const surface of SURFACES.filter((s) => s.prefix !== true)) {
      expect(h.t.app.classifiedRoutes.some((r) => r.method === surface.method && r.url === surface.url), `${surface.method} ${surface.url} is declared but not registered`).toBe(true)
    }
  })

  it('open routes answer without credentials', async () => {
    const open = routes().filter((r) => r.access === 'open')
    expect(open.length).toBeGreaterThan(5)
    for (const r of open) {
      const res = await request(r.method, concrete(r.url), {})
      expect([401, 403], `${r.method} ${r.url} -> ${res.status}`).not.toContain(res.status)
      expect(res.status, `${r.method} ${r.url}`).toBeLessThan(500)
    }
  })

  it('operator routes refuse no credentials and a valid Mecha key', async () => {
    const operator = routes().filter((r) => r.access === 'operator')
    expect(operator.length).toBe(16)
    for (const r of operator) {
      const url = concrete(r.url)
      expect((await request(r.method, url, {})).status, `${r.method} ${r.url} without credentials`).toBe(401)
      const withKey = runtimeHeaders({ method: r.method, url, credentials: runtime, authority: h.t.config.publicAuthority })
      // as the gateway wants it (scheme Mecha), and as a bearer token
      expect(await request(r.method, url, withKey), `${r.method} ${r.url} with a Mecha key`).toEqual({ status: 401, reason: 'malformed_credentials' })
      const asBearer = await request(r.method, url, { ...withKey, authorization: `Bearer ${runtime.token}` })
      expect(asBearer, `${r.method} ${r.url} with a Mecha key as Bearer`).toEqual({ status: 401, reason: 'invalid_operator_token' })
    }
  })

  it('runtime routes refuse no credentials and a valid operator token', async () => {
    const rt = routes().filter((r) => r.access === 'runtime')
    expect(rt.length).toBe(17)
    for (const r of rt) {
      const url = concrete(r.url)
      expect((await request(r.method, url, {})), `${r.method} ${r.url} without credentials`).toEqual({ status: 401, reason: 'missing_credentials' })
      const res = await request(r.method, url, { ...bearer(OPERATORS.admin), 'mecha-timestamp': String(Math.floor(Date.now() / 1000)), 'mecha-nonce': 'n'.repeat(24) })
      expect(res.status, `${r.method} ${r.url} with an operator token`).toBe(401)
      expect(res.reason).toBe('malformed_credentials')
    }
  })
})
