import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseContentDigest } from '../../src/crypto/content-digest.js'
import { buildSignatureBase, parseMechaSignature } from '../../src/crypto/signature-base.js'
import { contentDigestMatches, ed25519PublicKeyObject, verifyEd25519, verifyHmacSha256 } from '../../src/crypto/verify-signature.js'

// The worked example of docs/protocol.md ("Worked example and test vectors").
const V = {
  secret: 'mss_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE',
  seed: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
  publicKey: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
  body: '{"to":"executor","kind":"task.request","payload":{"task":"build"}}',
  headers: {
    'content-type': 'application/json',
    'mecha-timestamp': '1795300000',
    'mecha-nonce': 'bWVjaGEtdjEtZXhhbXBsZS1ub25jZSE',
    'content-digest': 'sha-256=:XUfYKIBb10E4RsN1FPu5Mv43nJKy48F0odFs2KoBxwU=:',
  } as Record<string, string>,
  hmac: {
    input: 'mecha=("@method" "@authority" "@path" "@query" "mecha-timestamp" "mecha-nonce" "content-type" "content-digest");keyid="mkexampleexampleexample234";alg="hmac-sha256";tag="mecha-v1"',
    signature: 'mecha=:Xu9g89/vcX2nDFBgrG5VpwLcz0IG2GxQHX3+qVMTi4c=:',
  },
  ed25519: {
    input: 'mecha=("@method" "@authority" "@path" "@query" "mecha-timestamp" "mecha-nonce" "content-type" "content-digest");keyid="mkexampleexampleexample234";alg="ed25519";tag="mecha-v1"',
    signature: 'mecha=:J5zSeLceQK/eTaoQ/dlVHr4q10VafdGZhFEK9KMOZtK/Nm4GTHup+OTFarmupZK4f7sk+o/sENyuejsoTpHYBg==:',
  },
}
const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')

function base(input: string, signature: string): { base: string; signature: Uint8Array } {
  const parsed = parseMechaSignature(input, signature)
  if (!parsed.ok) throw new Error(parsed.detail)
  const built = buildSignatureBase(parsed.value.components, parsed.value.signatureParams, {
    method: 'POST', authority: 'gateway.example.com', path: '/v1/messages', query: '?', header: (n) => V.headers[n],
  })
  if (!built.ok) throw new Error(built.detail)
  return { base: built.value, signature: parsed.value.signature }
}

describe('mecha-v1 worked example (docs/protocol.md)', () => {
  it('the Content-Digest is SHA-256 of the 66 body bytes', () => {
    expect(Buffer.byteLength(V.body)).toBe(66)
    expect(V.headers['content-digest']).toBe(`sha-256=:${createHash('sha256').update(V.body).digest('base64')}:`)
    const parsed = parseContentDigest(V.headers['content-digest'] as string)
    expect(parsed.ok && parsed.digests.length === 1 && contentDigestMatches(parsed.digests[0]!, Buffer.from(V.body))).toBe(true)
  })

  it('the HMAC-SHA256 signature verifies over the published base', () => {
    const { base: b, signature } = base(V.hmac.input, V.hmac.signature)
    expect(doc).toContain(b)
    expect(verifyHmacSha256(b, Buffer.from(V.secret, 'utf8'), signature)).toBe(true)
    expect(verifyHmacSha256(b.replace('POST', 'PUT'), Buffer.from(V.secret, 'utf8'), signature)).toBe(false)
  })

  it('the Ed25519 signature verifies with RFC 8032 test key 1', () => {
    const { base: b, signature } = base(V.ed25519.input, V.ed25519.signature)
    const key = ed25519PublicKeyObject(Buffer.from(V.publicKey, 'base64url'))
    expect(verifyEd25519(b, key, signature)).toBe(true)
    // the published seed derives the published public key
    const derived = createPublicKey(createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: V.seed, x: V.publicKey }, format: 'jwk' })).export({ format: 'jwk' }).x
    expect(derived).toBe(V.publicKey)
    expect(Buffer.from(V.seed, 'base64url').toString('hex')).toBe('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
  })

  it('the document shows every vector value', () => {
    for (const value of [V.secret, V.seed, V.publicKey, V.body, ...Object.values(V.headers), V.hmac.input, V.hmac.signature, V.ed25519.input, V.ed25519.signature]) {
      expect(doc).toContain(value)
    }
  })
})
