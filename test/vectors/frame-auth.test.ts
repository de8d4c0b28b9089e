import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { signRequest } from '../../src/client/index.js'
import { buildSignatureBase, checkCoveredComponents, parseMechaSignature } from '../../src/crypto/signature-base.js'
import { ed25519PublicKeyObject, verifyEd25519, verifyHmacSha256 } from '../../src/crypto/verify-signature.js'
import { authenticateFrame, frameHeader, parseAuthenticateFrame } from '../../src/frame-auth.js'

// docs/protocol.md, "First-frame authentication": the worked example's key answering a challenge.
const V = {
  keyId: 'mkexampleexampleexample234',
  secret: 'mss_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE',
  seed: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
  publicKey: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
  timestamp: 1795300000,
  nonce: 'bWVjaGEtdjEtZXhhbXBsZS1ub25jZSE',
  challenge: 'bWVjaGEtZnJhbWUtYXV0aC10ZXN0LWNoYWxsZW5nZSE',
  hmacFrame: '{"type":"authenticate","timestamp":1795300000,"nonce":"bWVjaGEtdjEtZXhhbXBsZS1ub25jZSE","signature_input":"mecha=(\\"@method\\" \\"@authority\\" \\"@path\\" \\"@query\\" \\"mecha-timestamp\\" \\"mecha-nonce\\" \\"mecha-challenge\\");keyid=\\"mkexampleexampleexample234\\";alg=\\"hmac-sha256\\";tag=\\"mecha-v1\\"","signature":"mecha=:N95idb6qvCgsPgKz90EyUecgyd2GsqQk29+8xX4AnOg=:"}',
  ed25519Signature: 'mecha=:bsCq2xuZVLwcsDGfTL3QP5hVlbTprwLZiyuvn8Lj2k+zH0Mu8iuN+aYtRCn6p4wKifipWiO/iptW8nhtKbtYDA==:',
}
const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')
const section = doc.slice(doc.indexOf('### First-frame authentication'))

/** The base the gateway builds for a frame: its fields through the header names, the challenge its own. */
function gatewayBase(frameText: string): { base: string; signature: Uint8Array } {
  const parsed = parseAuthenticateFrame(frameText)
  if (!parsed.ok) throw new Error(parsed.detail)
  const header = (name: string): string | undefined => (name === 'mecha-challenge' ? V.challenge : frameHeader(parsed.frame, name))
  const signature = parseMechaSignature(header('signature-input') ?? '', header('signature') ?? '')
  if (!signature.ok) throw new Error(signature.detail)
  expect(checkCoveredComponents(signature.value.components, false, false, true)).toBeUndefined()
  const built = buildSignatureBase(signature.value.components, signature.value.signatureParams, {
    method: 'GET', authority: 'gateway.example.com', path: '/v1/connect', query: '?', header,
  })
  if (!built.ok) throw new Error(built.detail)
  return { base: built.value, signature: signature.value.signature }
}

const request = { method: 'GET', authority: 'gateway.example.com', path: '/v1/connect', query: '', timestamp: V.timestamp, nonce: V.nonce, challenge: V.challenge }

describe('first-frame authentication worked example (docs/protocol.md)', () => {
  it('the challenge is the base64url of the 32 bytes shown', () => {
    expect(Buffer.from(V.challenge, 'base64url').toString('ascii')).toBe('mecha-frame-auth-test-challenge!')
    expect(Buffer.from(V.challenge, 'base64url')).toHaveLength(32)
  })

  it('the HMAC-SHA256 frame verifies over the published base, and over no other challenge', () => {
    const { base, signature } = gatewayBase(V.hmacFrame)
    expect(section).toContain(base)
    expect(verifyHmacSha256(base, Buffer.from(V.secret, 'utf8'), signature)).toBe(true)
    expect(Buffer.from(signature).equals(createHmac('sha256', V.secret).update(base).digest())).toBe(true)
    expect(verifyHmacSha256(base.replace(V.challenge, `${V.challenge.slice(0, -1)}A`), Buffer.from(V.secret, 'utf8'), signature)).toBe(false)
  })

  it('the Ed25519 frame verifies with RFC 8032 test key 1', () => {
    const frame = V.hmacFrame.replace('alg=\\"hmac-sha256\\"', 'alg=\\"ed25519\\"').replace(/"signature":"[^"]+"/, `"signature":"${V.ed25519Signature}"`)
    const { base, signature } = gatewayBase(frame)
    expect(verifyEd25519(base, ed25519PublicKeyObject(Buffer.from(V.publicKey, 'base64url')), signature)).toBe(true)
  })

  it('the SDK writes exactly these frames', () => {
    expect(authenticateFrame(signRequest(request, { keyId: V.keyId, signingSecret: V.secret }))).toBe(V.hmacFrame)
    const ed = JSON.parse(authenticateFrame(signRequest(request, { keyId: V.keyId, privateKey: V.seed }))) as { signature: string }
    expect(ed.signature).toBe(V.ed25519Signature)
  })

  it('the document shows every vector value', () => {
    for (const value of [V.timestamp, V.nonce, V.challenge, V.hmacFrame, V.ed25519Signature]) expect(section).toContain(String(value))
  })
})
