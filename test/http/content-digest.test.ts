import { createHash } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { delivered, drainInbox, gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { runtimeHeaders, type RuntimeRequestOptions } from '../helpers/runtime.js'
import { sendRaw } from '../hardening/raw-http.js'

/**
 * Content-Digest is checked on every runtime request that carries it (token-only or signed, with a
 * body or without), and every supported member must match the raw body bytes. One describe per
 * outcome; signed requests cover the Content-Digest they send, so a wrong member is signed too.
 */

let h: GatewayHarness
let bearer: IssuedRuntime
let signer: IssuedRuntime
let beta: IssuedRuntime

const MESSAGE = { to: 'beta', kind: 'task.request', payload: { n: 1 } }
const BODY = JSON.stringify(MESSAGE)
const OTHER_BODY = JSON.stringify({ ...MESSAGE, payload: { n: 2 } })

const sha256 = (body: string): string => `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
const sha512 = (body: string): string => `sha-512=:${createHash('sha512').update(body).digest('base64')}:`
const MD5 = 'md5=:AAAAAAAAAAAAAAAAAAAAAA==:'

beforeAll(async () => {
  h = await gatewayHarness()
  for (const id of ['alpha', 'beta']) await h.register(id)
  bearer = await h.issue('alpha')
  signer = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256'] } })
  beta = await h.issue('beta')
})
afterAll(async () => { await h.close() })
// Nothing a test sends stays in beta's inbox: a refusal delivers nothing, an acceptance is drained.
afterEach(async () => {
  await drainInbox(h, beta)
  expect(await delivered(h, 'beta')).toEqual([])
})

type Auth = 'token' | 'hmac-sha256'

/** POST /v1/messages with this Content-Digest; with a signature it is signed over (covered). */
function sendWithDigest(auth: Auth, contentDigest: string, body = BODY): ReturnType<GatewayHarness['call']> {
  const credentials = auth === 'token' ? bearer : signer
  return h.call({ method: 'POST', url: '/v1/messages', body, credentials, auth, extraHeaders: { 'content-digest': contentDigest } })
}

function outcome(res: { status: number; body?: { reason?: string } }): { status: number; reason: string | undefined } {
  return { status: res.status, reason: res.body?.reason }
}

describe('accepted: every supported member matches the body', () => {
  it.each<[Auth, string]>([
    ['token', sha256(BODY)],
    ['token', sha512(BODY)],
    ['token', `${sha512(BODY)}, ${sha256(BODY)}`],
    ['token', `${MD5}, ${sha256(BODY)}`],
    ['hmac-sha256', `${sha256(BODY)}, ${sha512(BODY)}`],
    ['hmac-sha256', `${MD5}, ${sha256(BODY)}`],
  ])('%s with %s -> 202', async (auth, digest) => {
    expect((await sendWithDigest(auth, digest)).status).toBe(202)
  })

  it('a GET with the digest of zero bytes -> 200 (an absent body is zero bytes)', async () => {
    const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: bearer, extraHeaders: { 'content-digest': sha256('') } })
    expect(res.status).toBe(200)
  })
})

describe('401 bad_digest', () => {
  it.each<[string, Auth, string]>([
    ['a token-only request with a wrong sha-256', 'token', sha256(OTHER_BODY)],
    ['a token-only request with a wrong sha-512', 'token', sha512(OTHER_BODY)],
    ['a token-only request with a wrong sha-512 beside a right sha-256', 'token', `${sha256(BODY)}, ${sha512(OTHER_BODY)}`],
    ['a token-only request with no supported algorithm', 'token', MD5],
    ['a signed request with a wrong sha-512 beside a right sha-256', 'hmac-sha256', `${sha256(BODY)}, ${sha512(OTHER_BODY)}`],
    ['a signed request with a wrong sha-256 beside a right sha-512', 'hmac-sha256', `${sha512(BODY)}, ${sha256(OTHER_BODY)}`],
    ['a signed request with a body and a right sha-512 but no sha-256', 'hmac-sha256', sha512(BODY)],
    ['a signed request with no supported algorithm', 'hmac-sha256', MD5],
  ])('%s', async (_name, auth, digest) => {
    expect(outcome(await sendWithDigest(auth, digest))).toEqual({ status: 401, reason: 'bad_digest' })
  })

  it('a token-only GET whose digest is of a non-empty body', async () => {
    const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: bearer, extraHeaders: { 'content-digest': sha256(BODY) } })
    expect(outcome(res)).toEqual({ status: 401, reason: 'bad_digest' })
  })
})

describe('401 malformed_credentials: a malformed Content-Digest', () => {
  it.each<[string, string]>([
    ['a digest of the wrong length', 'sha-256=:AAAA:'],
    ['not a dictionary', 'sha-256'],
    ['a token instead of bytes', 'sha-256=abc'],
    ['an uppercase algorithm', sha256(BODY).replace('sha-256', 'SHA-256')],
    ['a bad sha-512 beside a right sha-256', `${sha256(BODY)}, sha-512=:AAAA:`],
  ])('%s', async (_name, digest) => {
    for (const auth of ['token', 'hmac-sha256'] as const) {
      expect({ auth, ...outcome(await sendWithDigest(auth, digest)) }).toEqual({ auth, status: 401, reason: 'malformed_credentials' })
    }
  })
})

/**
 * Node decodes header bytes as latin1, so a trailing 0xA0 byte arrives as U+00A0, which
 * String.prototype.trim removes. Field values lose SP and HTAB only (RFC 9110 optional whitespace):
 * the byte stays, the value is not the one without it, and the refusal is a clean 401.
 */
describe('header values: only SP and HTAB are trimmed', () => {
  const NBSP = '\u00a0' // goes out as the single byte 0xA0 (node:http writes header strings as latin1)

  async function sendTampered(options: Omit<RuntimeRequestOptions, 'authority'>): Promise<{ status: number; reason: string | undefined }> {
    const headers = runtimeHeaders({ ...options, authority: h.t.config.publicAuthority })
    const res = await sendRaw(h.base, { method: options.method, url: options.url, headers, ...(options.body !== undefined ? { body: options.body } : {}) })
    return { status: res.status, reason: res.body?.reason }
  }

  it.each<[string, Auth, string]>([
    ['a token-only Mecha-Nonce', 'token', 'mecha-nonce'],
    ['a token-only Authorization', 'token', 'authorization'],
    ['a token-only Content-Digest', 'token', 'content-digest'],
    ['a signed Content-Digest', 'hmac-sha256', 'content-digest'],
  ])('%s ending in 0xA0 -> 401 malformed_credentials', async (_name, auth, name) => {
    const credentials = auth === 'token' ? bearer : signer
    const tamper = (x: Record<string, string>): void => { x[name] = `${x[name] ?? sha256(BODY)}${NBSP}` }
    expect(await sendTampered({ method: 'POST', url: '/v1/messages', body: BODY, credentials, auth, tamper })).toEqual({ status: 401, reason: 'malformed_credentials' })
  })

  it('a signed Content-Type ending in 0xA0 reaches the signature base and is refused as outside printable ASCII', async () => {
    const tamper = (x: Record<string, string>): void => { x['content-type'] = `${x['content-type']}${NBSP}` }
    expect(await sendTampered({ method: 'POST', url: '/v1/messages', body: BODY, credentials: signer, auth: 'hmac-sha256', tamper }))
      .toEqual({ status: 401, reason: 'malformed_credentials' })
  })

  it('a header the gateway does not read may end in 0xA0 (token-only: 202; signed: not covered, 202)', async () => {
    const tamper = (x: Record<string, string>): void => { x['x-note'] = `note${NBSP}` }
    expect(await sendTampered({ method: 'POST', url: '/v1/messages', body: BODY, credentials: bearer, tamper })).toEqual({ status: 202, reason: undefined })
    expect(await sendTampered({ method: 'POST', url: '/v1/messages', body: BODY, credentials: signer, auth: 'hmac-sha256', tamper })).toEqual({ status: 202, reason: undefined })
  })
})
