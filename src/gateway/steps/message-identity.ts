import { createHash } from 'node:crypto'
import { Problem } from '../../errors/problem.js'
import { parseIdempotencyKey, reservedIdempotencyPrefix } from '../../idempotency-key.js'
import type { GatewayContext, RuntimeRequest, StepResult } from '../context.js'

/**
 * Message identity on POST /v1/messages. The id a recipient sees and acks is the gateway's; a sender
 * that names one (the body field `id` of earlier versions) is told where its idempotency key goes now,
 * before the schema's generic "additional property" answer. The Idempotency-Key header, when sent, is
 * sent once and well-formed; the hand-off uses it.
 */
export function checkMessageIdentity(ctx: GatewayContext): StepResult {
  const body = ctx.request.json
  if (body !== null && typeof body === 'object' && Object.hasOwn(body, 'id')) {
    return new Problem('invalid_request',
      'the body field `id` is not accepted: the gateway assigns message ids; send your idempotency key in the Idempotency-Key header (Idempotency-Key: "order-42")')
  }
  const count = ctx.request.headerCount('idempotency-key')
  if (count === 0) return undefined
  if (count > 1) return new Problem('invalid_request', 'the Idempotency-Key header is sent more than once')
  const key = parseIdempotencyKey(ctx.request.header('idempotency-key') ?? '')
  if (key === undefined) {
    return new Problem('invalid_request', 'Idempotency-Key must be a string of 1 to 128 characters of A-Z a-z 0-9 . _ : - (Idempotency-Key: "order-42")')
  }
  const reserved = reservedIdempotencyPrefix(key)
  if (reserved !== undefined) return new Problem('invalid_request', `Idempotency-Key may not start with ${reserved} (the gateway's own messages use it); choose another key`)
  ctx.idempotencyKey = key
  return undefined
}

/**
 * The fingerprint an idempotency record keeps: SHA-256 over `<method> <path>\n` and the exact body
 * bytes (the draft leaves the fingerprint to the server). A retry must send the same bytes; the SDK does.
 */
export function requestSha256(request: Pick<RuntimeRequest, 'method' | 'path' | 'body'>): string {
  const hash = createHash('sha256').update(`${request.method} ${request.path}\n`, 'utf8')
  if (request.body !== undefined) hash.update(request.body)
  return hash.digest('hex')
}
