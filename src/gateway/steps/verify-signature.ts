import { buildSignatureBase, checkCoveredComponents } from '../../crypto/signature-base.js'
import { verifyEd25519, verifyHmacSha256 } from '../../crypto/verify-signature.js'
import { Problem } from '../../errors/problem.js'
import type { KeyMaterial } from '../key-material.js'
import { staleTimestamp } from './check-timestamp.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

export interface SignatureDeps {
  material: KeyMaterial
  /** `host[:port]` of MECHA_PUBLIC_URL: the only `@authority` a signature may cover. */
  publicAuthority: string
}

/**
 * An RFC 9421 signature (profile mecha-v1), when present. First everything that does not depend on the
 * key (covered set, `created`/`expires`/`nonce` parameters, the signature base; Content-Digest was the step before), so
 * that those refusals are the same for any key id; then the key: a key that cannot serve (decided by
 * resolveKey), an `alg` the key has not registered and a signature that does not verify are all the
 * one `bad_signature`, with no detail, so a caller without the secret learns nothing about the key.
 * `@authority` is the configured public origin, never the Host or a forwarded header.
 */
export function verifySignature(ctx: GatewayContext, deps: SignatureDeps): StepResult {
  const { signature } = required(ctx.credentials, 'credentials')
  if (signature === undefined) return undefined
  const { request } = ctx

  const body = request.body !== undefined && request.body.byteLength > 0 ? request.body : undefined
  const coverage = checkCoveredComponents(signature.components, body !== undefined, request.headerCount('idempotency-key') > 0, request.challenge !== undefined)
  if (coverage !== undefined) return new Problem('malformed_credentials', coverage)
  if (signature.created !== undefined && signature.created !== ctx.timestamp) {
    return new Problem('malformed_credentials', 'the signature `created` parameter differs from Mecha-Timestamp')
  }
  if (signature.expires !== undefined && signature.expires * 1000 < ctx.now) {
    return staleTimestamp(Math.floor(ctx.now / 1000), 'the signature `expires` parameter is in the past')
  }
  if (signature.nonce !== undefined && signature.nonce !== ctx.nonce) {
    return new Problem('malformed_credentials', 'the signature `nonce` parameter differs from Mecha-Nonce')
  }
  // The body is covered through content-digest: checkContentDigest (the step before) matched it to the bytes.
  required(ctx.contentDigestChecked, 'the Content-Digest check')

  const base = buildSignatureBase(signature.components, signature.signatureParams, {
    method: request.method,
    authority: deps.publicAuthority,
    path: request.path,
    query: request.query,
    header: (name) => request.header(name),
  })
  if (!base.ok) return new Problem('malformed_credentials', base.detail)

  if (ctx.keyRefusal !== undefined) return ctx.keyRefusal
  const key = required(ctx.key, 'key')
  if (!key.signature.algorithms.includes(signature.alg)) return new Problem('bad_signature', undefined, { internal: `alg_not_registered:${signature.alg}` })

  // Every candidate is tried, without stopping at the first match; the one that verified is the proof.
  let proof: { generation?: number; publicKey?: string } | undefined
  if (signature.alg === 'hmac-sha256') {
    for (const hmacKey of deps.material.hmacKeys(key, ctx.now)) {
      if (verifyHmacSha256(base.value, hmacKey.value, signature.signature)) proof = { generation: hmacKey.generation }
    }
  } else {
    for (const publicKey of deps.material.ed25519Keys(key)) {
      if (proof === undefined && verifyEd25519(base.value, publicKey.key, signature.signature)) proof = { publicKey: publicKey.publicKey }
    }
  }
  if (proof === undefined) return new Problem('bad_signature')
  ctx.verifiedBy = { token: ctx.verifiedBy?.token ?? false, signature: signature.alg }
  ctx.proof.signature = { alg: signature.alg, ...proof }
  return undefined
}
