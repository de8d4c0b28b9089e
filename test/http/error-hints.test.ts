import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TOKEN_LENGTH } from '../../src/crypto/token.js'
import { admin, bearer, OPERATORS } from '../helpers/app.js'
import { freshNonce } from '../helpers/runtime.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

// Issue 11: mistakes a newcomer makes in the first minutes, each answered with what to do instead.
let h: GatewayHarness
let planner: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('planner')
  planner = await h.issue('planner')
})
afterAll(async () => h.close())

const now = (): number => Math.floor(Date.now() / 1000)

async function runtime(headers: Record<string, string>): Promise<{ status: number; body: { reason: string; detail: string } }> {
  const res = await fetch(`${h.base}/v1/whoami`, { headers: { 'mecha-timestamp': String(now()), 'mecha-nonce': freshNonce(), ...headers } })
  return { status: res.status, body: await res.json() }
}

async function control(authorization: string): Promise<{ status: number; body: { reason: string; detail: string } }> {
  const res = await fetch(`${h.base}/v1/mechas`, { headers: { authorization } })
  return { status: res.status, body: await res.json() }
}

describe('runtime routes', () => {
  it('a millisecond Mecha-Timestamp: "looks like milliseconds; send seconds"', async () => {
    const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: planner, timestamp: Date.now() })
    expect(res.status).toBe(401)
    expect(res.body.reason).toBe('stale_timestamp')
    expect(res.body.detail).toMatch(/looks like milliseconds; send seconds/)
  })

  it('an operator token says it is one and where it belongs', async () => {
    for (const token of [OPERATORS.admin, `mop_${'x'.repeat(43)}`]) {
      for (const scheme of ['Bearer', 'Mecha']) {
        const res = await runtime({ authorization: `${scheme} ${token}` })
        expect(res.status).toBe(401)
        expect(res.body.reason).toBe('malformed_credentials')
        expect(res.body.detail).toMatch(/operator token/)
        expect(res.body.detail).toMatch(/control plane/)
        expect(res.body.detail).toMatch(/mecha_/)
        expect(res.body.detail).not.toContain(token)
      }
    }
  })

  it('a truncated Mecha key token says so, with the lengths', async () => {
    const token = planner.token as string
    const res = await runtime({ authorization: `Mecha ${token.slice(0, -5)}` })
    expect(res.status).toBe(401)
    expect(res.body.detail).toBe(`the token is ${TOKEN_LENGTH - 5} characters long, a Mecha key token has ${TOKEN_LENGTH}: truncated when copied?`)
  })
})

describe('control-plane routes', () => {
  it('a Mecha key token says it is one and where it belongs, with either scheme', async () => {
    const token = planner.token as string
    for (const scheme of ['Mecha', 'Bearer']) {
      const res = await control(`${scheme} ${token}`)
      expect(res.status).toBe(401)
      expect(res.body.detail).toMatch(/is a Mecha key token/)
      expect(res.body.detail).toMatch(/runtime routes/)
      expect(res.body.detail).toMatch(/operator token/)
      expect(res.body.detail).not.toContain(token)
    }
  })

  it('a refused development token (mop_) says where the current one is', async () => {
    const res = await control(`Bearer mop_${'q'.repeat(43)}`)
    expect(res.status).toBe(401)
    expect(res.body.reason).toBe('invalid_operator_token')
    expect(res.body.detail).toMatch(/MECHA_DATA_DIR\/dev-operator-token/)
  })

  it('a valid operator token still works', async () => {
    expect((await fetch(`${h.base}/v1/mechas`, { headers: admin })).status).toBe(200)
    expect((await fetch(`${h.base}/v1/mechas`, { headers: bearer(OPERATORS.reader) })).status).toBe(200)
  })
})
