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
 * Step 6: an RFC 9421 signature (profile mecha-v1), when present. The algorithm must be one the key
 * registered (the request never chooses alone); the covered set is fixed; `created`/`nonce`
 * parameters must equal the headers. The body is covered through `content-digest`, which
 * checkContentDigest (the step before this one) has already matched to the raw bytes.
 * `@authority` is the configured public origin, never the Host or a forwarded header.
 */
export function verifySignature(ctx: GatewayContext, deps: SignatureDeps): StepResult {
  const { signature } = required(ctx.credentials, 'credentials')
  if (signature === undefined) return undefined
  const key = required(ctx.key, 'key')
  const { request } = ctx

  if (!key.signature.algorithms.includes(signature.alg)) {
    return new Problem('bad_signature', `alg ${signature.alg} is not registered on this key`)
  }
  const body = request.body !== undefined && request.body.byteLength > 0 ? request.body : undefined
  const coverage = checkCoveredComponents(signature.components, body !== undefined)
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
  // The body is covered through content-digest: checkContentDigest has matched it to the bytes.
  required(ctx.contentDigestChecked, 'the Content-Digest check')

  const base = buildSignatureBase(signature.components, signature.signatureParams, {
    method: request.method,
    authority: deps.publicAuthority,
    path: request.path,
    query: request.query,
    header: (name) => request.header(name),
  })
  if (!base.ok) return new Problem('malformed_credentials', base.detail)

  let verified = false
  if (signature.alg === 'hmac-sha256') {
    for (const hmacKey of deps.material.hmacKeys(key, ctx.now)) verified = verifyHmacSha256(base.value, hmacKey, signature.signature) || verified
  } else {
    for (const publicKey of deps.material.ed25519Keys(key)) verified = verified || verifyEd25519(base.value, publicKey, signature.signature)
  }
  if (!verified) return new Problem('bad_signature')
  ctx.verifiedBy = { token: ctx.verifiedBy?.token ?? false, signature: signature.alg }
  return undefined
}
