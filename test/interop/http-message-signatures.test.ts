/**
 * Interoperability with an independent RFC 9421 implementation, the `http-message-signatures` npm
 * package (dhensby/node-http-message-signatures): requests it signs, following mecha-v1, verify on the
 * gateway; requests the SDK signs verify with it.
 *
 * Everything mecha-v1 needs is expressible with the package's public API: the label (`name`), the
 * covered components in order (`fields`), the parameters and their order (`params`, `paramValues`),
 * HMAC-SHA256 and Ed25519 (`createSigner` / `createVerifier`). Two things it leaves to the caller, as
 * RFC 9421 does: it does not compute Content-Digest (RFC 9530), so the test does, over the body bytes;
 * and it derives `@authority` from the URL it is given, so the request is signed for the gateway's
 * public URL (MECHA_PUBLIC_URL) and sent to the address the test server listens on.
 */
import { createHash, createPublicKey, randomBytes, type KeyObject } from 'node:crypto'
import { createSigner, createVerifier, httpbis, type SigningKey } from 'http-message-signatures'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MECHA_BODY_COMPONENTS, MECHA_COMPONENTS } from '../../src/crypto/signature-base.js'
import { signRequest } from '../../src/client/index.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

let h: GatewayHarness
const runtimes: Record<'hmac-sha256' | 'ed25519', IssuedRuntime> = {} as never

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('interop-sender')
  await h.register('interop-receiver')
  for (const alg of ['hmac-sha256', 'ed25519'] as const) {
    runtimes[alg] = await h.issue('interop-sender', { signature: { algorithms: [alg], required: true } })
  }
})
afterAll(async () => {
  await h.close()
})

function signingKey(alg: 'hmac-sha256' | 'ed25519'): SigningKey {
  const runtime = runtimes[alg]
  const key = alg === 'hmac-sha256' ? runtime.signingSecret : runtime.privateKey
  if (key === undefined) throw new Error(`no ${alg} key material`)
  return createSigner(key, alg, runtime.keyId)
}

interface Variant {
  alg: 'hmac-sha256' | 'ed25519'
  /** Optional RFC 9421 parameters mecha-v1 also accepts (created = Mecha-Timestamp, nonce = Mecha-Nonce, expires). */
  extraParams: boolean
}

const VARIANTS: Variant[] = [
  { alg: 'hmac-sha256', extraParams: false },
  { alg: 'hmac-sha256', extraParams: true },
  { alg: 'ed25519', extraParams: false },
  { alg: 'ed25519', extraParams: true },
]

/** Sign with the package, following mecha-v1; send over real HTTP. */
async function sendSigned(variant: Variant, method: string, target: string, body?: Uint8Array<ArrayBuffer>): Promise<Response> {
  const timestamp = Math.floor(Date.now() / 1000)
  const nonce = randomBytes(18).toString('base64url')
  const headers: Record<string, string> = { 'mecha-timestamp': String(timestamp), 'mecha-nonce': nonce }
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-digest'] = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
  }
  const signed = await httpbis.signMessage({
    key: signingKey(variant.alg),
    name: 'mecha',
    fields: [...MECHA_COMPONENTS, ...(body !== undefined ? MECHA_BODY_COMPONENTS : [])],
    params: variant.extraParams ? ['keyid', 'alg', 'tag', 'created', 'expires', 'nonce'] : ['keyid', 'alg', 'tag'],
    paramValues: {
      tag: 'mecha-v1',
      ...(variant.extraParams ? { created: new Date(timestamp * 1000), expires: new Date((timestamp + 60) * 1000), nonce } : {}),
    },
  }, { method, url: `${h.t.config.publicUrl}${target}`, headers })
  return fetch(`${h.base}${target}`, { method, headers: signed.headers as Record<string, string>, ...(body !== undefined ? { body } : {}) })
}

describe.each(VARIANTS)('signed by http-message-signatures ($alg, extra parameters: $extraParams)', (variant) => {
  it('POST /v1/messages is accepted (202)', async () => {
    const body = new TextEncoder().encode(JSON.stringify({ to: 'interop-receiver', kind: 'interop', payload: { alg: variant.alg, text: 'ünïcode' } }))
    const res = await sendSigned(variant, 'POST', '/v1/messages', body)
    // Status and body together: a refusal shows its reason.
    expect({ status: res.status, body: await res.json() }).toMatchObject({ status: 202, body: { from: 'interop-sender', to: 'interop-receiver', kind: 'interop' } })
  })

  it('GET /v1/inbox with a query is answered (200): @query is covered as sent', async () => {
    const res = await sendSigned(variant, 'GET', '/v1/inbox?wait=0&limit=5')
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { messages: [] } })
  })

  it('a body changed after signing is refused', async () => {
    const body = new TextEncoder().encode(JSON.stringify({ to: 'interop-receiver', kind: 'interop', payload: 1 }))
    const timestamp = Math.floor(Date.now() / 1000)
    const headers: Record<string, string> = {
      'mecha-timestamp': String(timestamp), 'mecha-nonce': randomBytes(18).toString('base64url'), 'content-type': 'application/json',
      'content-digest': `sha-256=:${createHash('sha256').update(body).digest('base64')}:`,
    }
    const signed = await httpbis.signMessage({
      key: signingKey(variant.alg), name: 'mecha', fields: [...MECHA_COMPONENTS, ...MECHA_BODY_COMPONENTS], params: ['keyid', 'alg', 'tag'], paramValues: { tag: 'mecha-v1' },
    }, { method: 'POST', url: `${h.t.config.publicUrl}/v1/messages`, headers })
    const forged = new TextEncoder().encode(JSON.stringify({ to: 'interop-receiver', kind: 'interop', payload: 2 }))
    const res = await fetch(`${h.base}/v1/messages`, { method: 'POST', headers: signed.headers as Record<string, string>, body: forged })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ reason: 'bad_digest' })
  })
})

describe.each(['hmac-sha256', 'ed25519'] as const)('signed by the SDK (%s)', (alg) => {
  it('verifies with http-message-signatures', async () => {
    const runtime = runtimes[alg]
    const body = new TextEncoder().encode('{"to":"interop-receiver","kind":"interop","payload":null}')
    const credentials = alg === 'hmac-sha256'
      ? { keyId: runtime.keyId, signingSecret: runtime.signingSecret }
      : { keyId: runtime.keyId, privateKey: runtime.privateKey?.export({ format: 'jwk' }).d }
    const headers = signRequest({
      method: 'POST', authority: h.t.config.publicAuthority, path: '/v1/messages', query: '', body,
      timestamp: Math.floor(Date.now() / 1000), nonce: randomBytes(18).toString('base64url'),
    }, credentials)

    const verifyKey: string | KeyObject = alg === 'hmac-sha256'
      ? runtime.signingSecret as string
      : createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: runtime.publicKey as string }, format: 'jwk' })
    const verified = await httpbis.verifyMessage({
      keyLookup: async (params) => (params.keyid === runtime.keyId ? { id: runtime.keyId, algs: [alg], verify: createVerifier(verifyKey, alg) } : null),
      requiredFields: [...MECHA_COMPONENTS, ...MECHA_BODY_COMPONENTS],
    }, { method: 'POST', url: `${h.t.config.publicUrl}/v1/messages`, headers })
    expect(verified).toBe(true)
  })
})
