import { request as httpRequest } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { formatToken } from '../../src/crypto/token.js'
import { admin } from '../helpers/app.js'
import { delivered, gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { freshNonce, runtimeHeaders } from '../helpers/runtime.js'

let h: GatewayHarness
let alpha: IssuedRuntime
let signer: IssuedRuntime
let strict: IssuedRuntime
let narrow: IssuedRuntime

const MESSAGE = { to: 'beta', kind: 'task.request', payload: { n: 1 } }

beforeAll(async () => {
  // debug: the last test reads every request's "request completed" line (development logs them at debug).
  h = await gatewayHarness({ LOG_LEVEL: 'debug' })
  for (const id of ['alpha', 'beta', 'gamma']) await h.register(id)
  await h.register('picky', { accepts: ['greeting.*'] })
  alpha = await h.issue('alpha')
  signer = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256', 'ed25519'] } })
  strict = await h.issue('alpha', { signature: { required: true, algorithms: ['hmac-sha256'] } })
  narrow = await h.issue('alpha', { permissions: { recipients: ['beta', 'picky'], kinds: ['task.*', 'greeting.*'], max_message_bytes: 100 } })
})
afterAll(async () => { await h.close() })
// every refusal: nothing stored, nothing delivered
afterEach(async () => { expect(await delivered(h, 'beta')).toEqual([]) })

function expectRefused(res: { status: number; body: { reason?: string; code?: string } }, status: number, reason: string): void {
  expect({ status: res.status, reason: res.body?.reason }).toEqual({ status, reason })
}

describe('401 missing_credentials', () => {
  it('no Authorization and no signature', async () => {
    const res = await fetch(`${h.base}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(MESSAGE) })
    expectRefused({ status: res.status, body: await res.json() }, 401, 'missing_credentials')
  })
})

describe('401 malformed_credentials', () => {
  const cases: [string, (headers: Record<string, string>) => void][] = [
    ['an unknown scheme', (x) => { x.authorization = `Token ${alpha.token}` }],
    ['a token with the wrong prefix', (x) => { x.authorization = `Mecha mechb${alpha.token?.slice(5)}` }],
    ['a truncated token', (x) => { x.authorization = `Mecha ${alpha.token?.slice(0, -3)}` }],
    ['a token with a wrong checksum', (x) => { x.authorization = `Mecha ${alpha.token?.slice(0, -1)}${alpha.token?.endsWith('a') ? 'b' : 'a'}` }],
    ['no timestamp', (x) => { delete x['mecha-timestamp'] }],
    ['a timestamp with a fraction', (x) => { x['mecha-timestamp'] = '1700000000.5' }],
    ['a negative timestamp', (x) => { x['mecha-timestamp'] = '-1700000000' }],
    ['no nonce', (x) => { delete x['mecha-nonce'] }],
    ['a short nonce', (x) => { x['mecha-nonce'] = 'abc' }],
    ['a nonce outside base64url', (x) => { x['mecha-nonce'] = 'a'.repeat(30) + '+/' }],
  ]
  it.each(cases)('%s', async (_name, tamper) => {
    expectRefused(await h.send(alpha, MESSAGE, { tamper }), 401, 'malformed_credentials')
  })

  // Was bad_digest until Content-Digest was checked on every request: a malformed field is malformed.
  it('a Content-Digest of the wrong length on a signed body', async () => {
    const tamper = (x: Record<string, string>): void => { x['content-digest'] = 'sha-256=:AAAA:' }
    expectRefused(await h.send(signer, MESSAGE, { auth: 'hmac-sha256', tamper }), 401, 'malformed_credentials')
  })

  it('a duplicated credential header', async () => {
    const headers = runtimeHeaders({ method: 'GET', url: '/v1/whoami', credentials: alpha, authority: h.t.config.publicAuthority })
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${h.base}/v1/whoami`)
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'GET', headers: { ...headers, 'mecha-nonce': [headers['mecha-nonce'] as string, freshNonce()] } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(401)
  })

  it.each<[string, Parameters<GatewayHarness['send']>[2]]>([
    ['Signature-Input without Signature', { auth: 'hmac-sha256', tamper: (x) => { delete x.signature } }],
    ['a signature under another label', { auth: 'hmac-sha256', tamper: (x) => { x['signature-input'] = x['signature-input']!.replace(/^mecha=/, 'sig1='); x.signature = x.signature!.replace(/^mecha=/, 'sig1=') } }],
    ['a keyid that differs from the token', { auth: 'token+hmac-sha256', tamper: (x) => { x.authorization = `Mecha ${alpha.token}` } }],
    ['a missing covered component', { auth: 'hmac-sha256', components: ['@method', '@authority', '@path', '@query', 'mecha-timestamp', 'content-type', 'content-digest'] }],
    ['an extra covered component', { auth: 'hmac-sha256', extraHeaders: { 'x-extra': '1' }, components: ['@method', '@authority', '@path', '@query', 'mecha-timestamp', 'mecha-nonce', 'content-type', 'content-digest', 'x-extra'] }],
    ['an unknown alg', { auth: 'hmac-sha256', tamper: (x) => { x['signature-input'] = x['signature-input']!.replace('alg="hmac-sha256"', 'alg="rsa-pss-sha512"') } }],
    ['a duplicated parameter', { auth: 'hmac-sha256', tamper: (x) => { x['signature-input'] += ';tag="mecha-v1"' } }],
    ['a created parameter that differs from Mecha-Timestamp', { auth: 'hmac-sha256', params: { created: 1 } }],
    ['a nonce parameter that differs from Mecha-Nonce', { auth: 'hmac-sha256', params: { nonce: 'x'.repeat(22) } }],
  ])('%s', async (_name, options) => {
    expectRefused(await h.send(signer, MESSAGE, options), 401, 'malformed_credentials')
  })
})

describe('401 invalid_key (one public reason; the log keeps the cause)', () => {
  it('an unknown key', async () => {
    const token = formatToken(`mk${'a'.repeat(24)}`, 'b'.repeat(52))
    expectRefused(await h.send({ keyId: `mk${'a'.repeat(24)}`, token }, MESSAGE), 401, 'invalid_key')
    expect(h.t.logs.some((l) => l.includes('"cause":"unknown_key"'))).toBe(true)
  })
  it('a wrong secret for a real key id', async () => {
    const token = formatToken(alpha.keyId, 'c'.repeat(52))
    expectRefused(await h.send({ keyId: alpha.keyId, token }, MESSAGE), 401, 'invalid_key')
  })
  it('a revoked key', async () => {
    const key = await h.issue('alpha')
    await h.t.app.inject({ method: 'POST', url: `/v1/keys/${key.keyId}/revoke`, headers: admin })
    expectRefused(await h.send(key, MESSAGE), 401, 'invalid_key')
    expect(h.t.logs.some((l) => l.includes('"cause":"key_revoked"'))).toBe(true)
  })
  it('an expired key', async () => {
    const key = await h.issue('alpha', { ttl_seconds: 1 })
    await new Promise((r) => setTimeout(r, 1100))
    expectRefused(await h.send(key, MESSAGE), 401, 'invalid_key')
  })
  it('a key whose mecha was deactivated', async () => {
    await h.register('doomed')
    const key = await h.issue('doomed')
    await h.t.app.inject({ method: 'DELETE', url: '/v1/mechas/doomed', headers: admin })
    expectRefused(await h.send(key, MESSAGE), 401, 'invalid_key')
  })
})

describe('401 stale_timestamp', () => {
  it.each([['10 minutes old', -600], ['10 minutes ahead', 600], ['in milliseconds', Date.now() - Math.floor(Date.now() / 1000)]])('%s, with the server time', async (_name, offset) => {
    const timestamp = Math.floor(Date.now() / 1000) + offset
    const res = await h.send(alpha, MESSAGE, { timestamp })
    expectRefused(res, 401, 'stale_timestamp')
    expect(Math.abs(res.body.server_time - Date.now() / 1000)).toBeLessThan(5)
    expect(res.headers.get('mecha-server-time')).toBe(String(res.body.server_time))
  })
})

describe('401 replayed_nonce', () => {
  it('the same signed request twice: the second is refused and nothing is delivered twice', async () => {
    const nonce = freshNonce()
    const timestamp = Math.floor(Date.now() / 1000)
    const first = await h.send(signer, { ...MESSAGE, to: 'gamma' }, { auth: 'hmac-sha256', nonce, timestamp })
    const again = await h.send(signer, { ...MESSAGE, to: 'gamma' }, { auth: 'hmac-sha256', nonce, timestamp })
    expect(first.status).toBe(202)
    expectRefused(again, 401, 'replayed_nonce')
    expect(await delivered(h, 'gamma')).toHaveLength(1)
    await h.t.stores.transport.ack('gamma', [first.body.id])
  })
  it('a refused request burns its nonce: it cannot be replayed once the refusal no longer applies', async () => {
    const nonce = freshNonce()
    expectRefused(await h.send(narrow, { ...MESSAGE, to: 'gamma' }, { nonce }), 403, 'recipient_not_allowed')
    expectRefused(await h.send(narrow, MESSAGE, { nonce }), 401, 'replayed_nonce')
  })
  it('a nonce is per key: another key may use the same one', async () => {
    const nonce = freshNonce()
    expect((await h.call({ method: 'GET', url: '/v1/whoami', credentials: alpha, nonce })).status).toBe(200)
    expect((await h.call({ method: 'GET', url: '/v1/whoami', credentials: narrow, nonce })).status).toBe(200)
  })
})

describe('401 bad_signature', () => {
  it.each<[string, Parameters<GatewayHarness['send']>[2], Partial<IssuedRuntime>?]>([
    ['a wrong HMAC secret', { auth: 'hmac-sha256' }, { signingSecret: `mss_${'A'.repeat(43)}` }],
    ['a flipped signature byte', { auth: 'hmac-sha256', tamper: (x) => { x.signature = x.signature!.replace(/=:(.)/, (_m, c: string) => `=:${c === 'A' ? 'B' : 'A'}`) } }],
    ['a signature made for another path', { auth: 'hmac-sha256', tamper: (x) => { x.signature = runtimeHeaders({ method: 'POST', url: '/v1/other', body: JSON.stringify(MESSAGE), credentials: signer, auth: 'hmac-sha256', authority: h.t.config.publicAuthority, nonce: x['mecha-nonce'], timestamp: Number(x['mecha-timestamp']) }).signature! } }],
    ['an @authority other than the public URL', { auth: 'ed25519', authority: 'evil.example:443' }],
    ['an alg not registered on the key', { auth: 'ed25519' }, { keyId: '' }],
  ])('%s', async (_name, options, override = {}) => {
    const credentials = override.keyId === '' ? { ...strict, privateKey: signer.privateKey } : { ...signer, ...override }
    expectRefused(await h.send(credentials, MESSAGE, options), 401, 'bad_signature')
  })
})

describe('401 bad_digest', () => {
  it.each<[string, (x: Record<string, string>) => void]>([
    ['Content-Digest missing on a signed body', (x) => { delete x['content-digest'] }],
    ['an unsupported digest algorithm', (x) => { x['content-digest'] = 'md5=:AAAAAAAAAAAAAAAAAAAAAA==:' }],
  ])('%s', async (_name, tamper) => {
    expectRefused(await h.send(signer, MESSAGE, { auth: 'hmac-sha256', tamper }), 401, 'bad_digest')
  })
  it('a body changed after signing', async () => {
    const headers = runtimeHeaders({ method: 'POST', url: '/v1/messages', body: JSON.stringify(MESSAGE), credentials: signer, auth: 'hmac-sha256', authority: h.t.config.publicAuthority })
    const res = await fetch(`${h.base}/v1/messages`, { method: 'POST', headers, body: JSON.stringify({ ...MESSAGE, payload: { n: 2 } }) })
    expectRefused({ status: res.status, body: await res.json() }, 401, 'bad_digest')
  })
})

describe('401 signature_required', () => {
  it('a bearer-only request with a key that requires a signature', async () => {
    expectRefused(await h.send(strict, MESSAGE), 401, 'signature_required')
    expect((await h.send(strict, { ...MESSAGE, to: 'gamma' }, { auth: 'hmac-sha256' })).status).toBe(202)
    await h.t.stores.transport.read('gamma', { limit: 10, visibilityMs: 1, now: Date.now() }).then((r) => h.t.stores.transport.ack('gamma', r.messages.map((x) => x.id)))
  })
})

describe('401 sender_mismatch', () => {
  it('a `from` other than the key\'s mecha', async () => {
    expectRefused(await h.send(alpha, { ...MESSAGE, from: 'gamma' }), 401, 'sender_mismatch')
  })
})

describe('403 recipient_not_allowed and kind_not_allowed', () => {
  it('a recipient outside permissions.recipients', async () => {
    expectRefused(await h.send(narrow, { ...MESSAGE, to: 'gamma' }), 403, 'recipient_not_allowed')
  })
  it('a kind outside permissions.kinds', async () => {
    expectRefused(await h.send(narrow, { ...MESSAGE, kind: 'admin.wipe' }), 403, 'kind_not_allowed')
  })
  it('a kind the recipient does not accept', async () => {
    expectRefused(await h.send(alpha, { ...MESSAGE, to: 'picky' }), 403, 'kind_not_allowed')
  })
})

describe('404 unknown_recipient', () => {
  it('an unregistered recipient', async () => {
    expectRefused(await h.send(alpha, { ...MESSAGE, to: 'nobody' }), 404, 'unknown_recipient')
  })
  it('a deactivated recipient', async () => {
    await h.register('retired')
    await h.t.app.inject({ method: 'DELETE', url: '/v1/mechas/retired', headers: admin })
    expectRefused(await h.send(alpha, { ...MESSAGE, to: 'retired' }), 404, 'unknown_recipient')
    expect(await delivered(h, 'retired')).toEqual([])
  })
})

describe('413 message_too_large', () => {
  it('a body over the key\'s max_message_bytes', async () => {
    expectRefused(await h.send(narrow, { ...MESSAGE, payload: 'x'.repeat(200) }), 413, 'message_too_large')
  })
})

describe('400 invalid envelopes', () => {
  it.each<[string, unknown, string]>([
    ['no recipient', { kind: 'k', payload: 1 }, 'invalid_request'],
    ['an extra field', { ...MESSAGE, admin: true }, 'invalid_request'],
    ['a malformed recipient id', { ...MESSAGE, to: 'A*' }, 'invalid_id'],
  ])('%s', async (_name, body, reason) => {
    expectRefused(await h.send(alpha, body as object), 400, reason)
  })
})

describe('no refusal is a fault', () => {
  it('no request in this file was answered with a 5xx', () => {
    const completed = h.t.logs.filter((l) => l.includes('"msg":"request completed"'))
    expect(completed.length).toBeGreaterThan(40)
    expect(completed.filter((l) => /"statusCode":5\d\d/.test(l))).toEqual([])
  })
})
