import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { SURFACES, roleServes } from '../../src/surfaces.js'
import { admin, testApp, type TestApp } from '../helpers/app.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { runtimeFetch, type RuntimeCredentials } from '../helpers/runtime.js'

/**
 * The control plane and the gateway as separate roles (issue 12, "Roles"): a `gateway` process serves
 * the runtime and open surfaces only, a `control` process the operator and open surfaces only, and
 * the two together on one Redis run the whole cycle. The boundary is checked per role, by behaviour,
 * for every declared surface.
 */
function concrete(url: string): string {
  return url.replace(':keyId', `mk${'a'.repeat(24)}`).replace(':id', 'alpha').replace(':name', 'message').replace(/\*$/, 'index.html')
}

describeWithRedis('MECHA_ROLE=control and MECHA_ROLE=gateway on one Redis', () => {
  let redis: RedisHandle
  let control: TestApp
  let gateway: TestApp
  let gatewayBase: string

  beforeAll(async () => {
    redis = await startRedis()
    const masterKey = randomBytes(32)
    const shared = { REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'roles:', MECHA_PUBLIC_URL: 'http://gateway.test' }
    control = await testApp({ ...shared, MECHA_ROLE: 'control' }, { masterKey })
    gateway = await testApp({ ...shared, MECHA_ROLE: 'gateway' }, { masterKey })
    gatewayBase = await gateway.app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(async () => {
    await gateway?.close()
    await control?.close()
    await redis?.stop()
  })

  it.each(['control', 'gateway'] as const)('the %s role registers exactly the routes of its access classes', (role) => {
    const app = role === 'control' ? control : gateway
    const served = new Set(app.app.classifiedRoutes.map((r) => r.access))
    for (const access of ['open', 'operator', 'runtime'] as const) expect(served.has(access), `${role} serves ${access}`).toBe(roleServes(role, access))
  })

  it.each(['control', 'gateway'] as const)('every surface the %s role does not serve is a 404, with credentials or without', async (role) => {
    const app = role === 'control' ? control : gateway
    for (const surface of SURFACES.filter((s) => !roleServes(role, s.access))) {
      const res = await app.app.inject({ method: surface.method, url: concrete(surface.url), headers: admin, ...(surface.method === 'POST' || surface.method === 'PATCH' ? { payload: {} } : {}) })
      expect({ route: `${surface.method} ${surface.url}`, status: res.statusCode, reason: res.json().reason }).toEqual({ route: `${surface.method} ${surface.url}`, status: 404, reason: 'route_not_found' })
    }
  })

  it('the operator cycle on the control process, the message through the gateway process', async () => {
    for (const id of ['alpha', 'beta']) expect((await control.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })).statusCode).toBe(201)
    const issued = (await control.app.inject({ method: 'POST', url: '/v1/mechas/alpha/keys', headers: admin, payload: { signature: { required: true, algorithms: ['hmac-sha256'] } } })).json()
    const reader = (await control.app.inject({ method: 'POST', url: '/v1/mechas/beta/keys', headers: admin, payload: {} })).json()
    const signer: RuntimeCredentials = { keyId: issued.key.id, signingSecret: issued.signing_secret }
    const sent = await runtimeFetch(gatewayBase, { method: 'POST', url: '/v1/messages', body: JSON.stringify({ to: 'beta', kind: 'k', payload: 'split' }), credentials: signer, auth: 'hmac-sha256', authority: 'gateway.test' })
    expect(sent.status).toBe(202)
    const inbox = await runtimeFetch(gatewayBase, { method: 'GET', url: '/v1/inbox', credentials: { keyId: reader.key.id, token: reader.token }, authority: 'gateway.test' })
    expect(((await inbox.json()) as { messages: { payload: unknown }[] }).messages.map((m) => m.payload)).toEqual(['split'])
    // A revocation on the control process is refused by the gateway process (change feed over Redis).
    expect((await control.app.inject({ method: 'POST', url: `/v1/keys/${reader.key.id}/revoke`, headers: admin })).statusCode).toBe(200)
    await expect.poll(async () => (await runtimeFetch(gatewayBase, { method: 'GET', url: '/v1/whoami', credentials: { keyId: reader.key.id, token: reader.token }, authority: 'gateway.test' })).status).toBe(401)
  })

  it('the well-known document of each role lists only the surfaces it serves', async () => {
    for (const [role, app] of [['control', control], ['gateway', gateway]] as const) {
      const doc = (await app.app.inject({ method: 'GET', url: '/.well-known/mecharim' })).json() as { role: string; surfaces: { access: string }[] }
      expect(doc.role).toBe(role)
      expect(new Set(doc.surfaces.map((s) => s.access))).toEqual(new Set(['open', role === 'control' ? 'operator' : 'runtime']))
    }
  })
})

describe('MECHA_ROLE configuration', () => {
  it('a gateway-role process starts in production without operator tokens', () => {
    const config = loadConfig({ NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_ROLE: 'gateway', MECHA_MASTER_KEY: 'a'.repeat(64) })
    expect(config.role).toBe('gateway')
    expect(config.generateOperatorToken).toBe(false)
  })

  it('a control or all-role process still needs them in production', () => {
    for (const role of ['control', 'all']) expect(() => loadConfig({ NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_ROLE: role, MECHA_MASTER_KEY: 'a'.repeat(64) })).toThrow(/no operator tokens configured/)
  })

  it('an unknown role stops the process, naming the variable', () => {
    expect(() => loadConfig({ MECHA_ROLE: 'both' })).toThrow(/MECHA_ROLE must be one of all, gateway, control/)
  })
})
