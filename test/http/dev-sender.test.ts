import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'

/** The development sender header (issue 13, as the MACP runtime has it), over real HTTP. */
async function get(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${base}${path}`, { headers })
  return { status: res.status, body: await res.json() }
}

describe('without MECHA_ALLOW_DEV_SENDER_HEADER', () => {
  let h: GatewayHarness
  beforeAll(async () => {
    h = await gatewayHarness()
    await h.register('alpha')
  })
  afterAll(async () => { await h.close() })

  it('the header is refused, with a hint naming the flag', async () => {
    const res = await get(h.base, '/v1/whoami', { 'mecha-dev-sender': 'alpha' })
    expect(res.status).toBe(401)
    expect(res.body.reason).toBe('dev_sender_refused')
    expect(res.body.detail).toContain('MECHA_ALLOW_DEV_SENDER_HEADER=1')
  })

  it('and refused beside a valid key too (never silently ignored)', async () => {
    const key = await h.issue('alpha')
    const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: key, extraHeaders: { 'mecha-dev-sender': 'alpha' } })
    expect(res.body.reason).toBe('dev_sender_refused')
  })
})

describe('with MECHA_ALLOW_DEV_SENDER_HEADER=1', () => {
  let h: GatewayHarness
  beforeAll(async () => {
    h = await gatewayHarness({ MECHA_ALLOW_DEV_SENDER_HEADER: '1' })
    for (const id of ['alpha', 'beta']) await h.register(id, { accepts: ['only.this'] })
    await h.register('gone')
    await h.t.app.inject({ method: 'DELETE', url: '/v1/mechas/gone', headers: admin })
  })
  afterAll(async () => { await h.close() })

  it('a request with only the header acts as that mecha: no timestamp, no nonce, no key', async () => {
    const res = await get(h.base, '/v1/whoami', { 'mecha-dev-sender': 'alpha' })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ mecha: 'alpha', permissions: { recipients: ['*'], kinds: ['*'] } })
  })

  it('sends with every permission (the recipient\'s own accepts still apply) and the message arrives from that mecha', async () => {
    const sent = await fetch(`${h.base}/v1/messages`, {
      method: 'POST', headers: { 'mecha-dev-sender': 'alpha', 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'beta', kind: 'only.this', payload: { hi: 1 } }),
    })
    expect(sent.status).toBe(202)
    const inbox = await get(h.base, '/v1/inbox', { 'mecha-dev-sender': 'beta' })
    expect(inbox.body.messages.map((m: { from: string; payload: unknown }) => [m.from, m.payload])).toEqual([['alpha', { hi: 1 }]])
  })

  it('an inactive or unknown mecha is refused', async () => {
    expect((await get(h.base, '/v1/whoami', { 'mecha-dev-sender': 'gone' })).body.reason).toBe('invalid_key')
    expect((await get(h.base, '/v1/whoami', { 'mecha-dev-sender': 'nobody' })).body.reason).toBe('invalid_key')
  })

  it('the header beside a credential is refused', async () => {
    const key = await h.issue('alpha')
    const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: key, extraHeaders: { 'mecha-dev-sender': 'alpha' } })
    expect(res.body.reason).toBe('malformed_credentials')
  })

  it('every such request is audited as dev_sender and logged', async () => {
    await get(h.base, '/v1/whoami', { 'mecha-dev-sender': 'alpha' })
    const audit = (await h.t.app.inject({ method: 'GET', url: '/v1/audit?type=dev_sender', headers: admin })).json()
    expect(audit.events.length).toBeGreaterThan(0)
    expect(audit.events[0]).toMatchObject({ type: 'dev_sender', target: { kind: 'mecha', id: 'alpha' } })
    expect(h.t.logs.some((line) => line.includes('Mecha-Dev-Sender') && line.includes('"dev_sender":"alpha"'))).toBe(true)
  })
})

describe('configuration', () => {
  it('refuses the flag with NODE_ENV=production, naming the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_ALLOW_DEV_SENDER_HEADER: '1', MECHA_MASTER_KEY: 'a'.repeat(64), MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [`adm_${'a'.repeat(40)}`]: 'alice' }) }))
      .toThrow(/MECHA_ALLOW_DEV_SENDER_HEADER=1 is refused with NODE_ENV=production/)
  })

  it('warns loudly at start in development', () => {
    const config = loadConfig({ MECHA_ALLOW_DEV_SENDER_HEADER: '1' })
    expect(config.warnings.join('\n')).toMatch(/!!! MECHA_ALLOW_DEV_SENDER_HEADER=1/)
  })
})

describe('the failed-authentication 429 in development', () => {
  let h: GatewayHarness
  beforeAll(async () => {
    h = await gatewayHarness({ MECHA_AUTH_FAILURE_LIMIT: '2' })
    await h.register('alpha')
  })
  afterAll(async () => { await h.close() })

  it('names MECHA_AUTH_FAILURE_LIMIT', async () => {
    const key = await h.issue('alpha')
    const wrong = { ...key, token: `${key.token?.slice(0, 33)}${'a'.repeat(52)}${key.token?.slice(85)}` }
    let res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: wrong })
    for (let i = 0; i < 5 && res.status !== 429; i++) res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: wrong })
    expect(res.status).toBe(429)
    expect(res.body.detail).toContain('MECHA_AUTH_FAILURE_LIMIT')
  })
})
