import { MechaError } from './errors.js'
import type { Message } from './types.js'

/**
 * The JSON text frames of GET /v1/connect (docs/protocol.md, "GET /v1/connect"). `ref` is the client's
 * reference to the frame an `acked` or `error` answers, echoed by gateways that support it; `reason`
 * on an `acked` frame marks a refusal.
 */
export type ServerFrame =
  | { type: 'challenge'; challenge: string; expires_in: number }
  | { type: 'ready'; mecha: string; key_id: string; server_time: number }
  | { type: 'message'; message: Message }
  | { type: 'acked'; ids: string[]; acknowledged: number; ref?: string; reason?: string; detail?: string }
  | LifecycleAnswer
  | ErrorFrame
  | { type: 'closing'; reason: string; detail: string }

/** The frames a recipient's controls send (issue 14), and the answers' types and count fields. */
export type LifecycleFrameType = 'nack' | 'extend' | 'reject'
export const LIFECYCLE_ANSWERS = {
  nack: { type: 'nacked', count: 'nacked' },
  extend: { type: 'extended', count: 'extended' },
  reject: { type: 'rejected', count: 'rejected' },
} as const

/** `nacked`, `extended` or `rejected`: how many of the ids moved. */
export interface LifecycleAnswer {
  type: 'nacked' | 'extended' | 'rejected'
  ids: string[]
  /** The count, from the field named as the type (`nacked`, `extended`, `rejected`). */
  count: number
  ref?: string
  reason?: string
  detail?: string
}

/**
 * An `error` frame. Refusing a first-frame handshake, it is the problem+json body the same refusal
 * gets over HTTP with `type` "error": it also has `title`, `status`, `code`, `request_id` and the
 * extension members (`server_time`, `retry_after`).
 */
export interface ErrorFrame {
  type: 'error'
  reason: string
  detail: string
  ref?: string
  status?: number
  code?: string
  request_id?: string
  [extension: string]: unknown
}

/** A challenge as the gateway sends it: 32 random bytes, unpadded base64url (more is accepted). */
const CHALLENGE_RE = /^[A-Za-z0-9_-]{43,128}$/

/** What the gateway accepts as a `ref`: 1 to 64 characters of [A-Za-z0-9._:-]. */
const REF_RE = /^[A-Za-z0-9._:-]{1,64}$/

export function ackFrame(ids: readonly string[], ref: string): string {
  return JSON.stringify({ type: 'ack', ids, ref })
}

/** A `nack`, `extend` or `reject` frame: the HTTP route's body fields, with the ref. */
export function lifecycleFrame(type: LifecycleFrameType, fields: { ids: readonly string[] } & Record<string, unknown>, ref: string): string {
  return JSON.stringify({ type, ...fields, ref })
}

/** A server frame, or undefined for anything this client does not understand (ignored). */
export function parseFrame(data: unknown): ServerFrame | undefined {
  if (typeof data !== 'string') return undefined
  let frame: unknown
  try {
    frame = JSON.parse(data)
  } catch {
    return undefined
  }
  if (typeof frame !== 'object' || frame === null) return undefined
  const f = frame as Record<string, unknown>
  if (f.ref !== undefined && (typeof f.ref !== 'string' || !REF_RE.test(f.ref))) return undefined
  switch (f.type) {
    case 'challenge':
      return typeof f.challenge === 'string' && CHALLENGE_RE.test(f.challenge) && typeof f.expires_in === 'number' ? (f as ServerFrame) : undefined
    case 'ready':
      return typeof f.mecha === 'string' && typeof f.key_id === 'string' && typeof f.server_time === 'number' ? (f as ServerFrame) : undefined
    case 'message': {
      const message = f.message as { id?: unknown } | null | undefined
      return typeof message === 'object' && message !== null && typeof message.id === 'string' ? (f as ServerFrame) : undefined
    }
    case 'acked':
      return Array.isArray(f.ids) && typeof f.acknowledged === 'number' && optionalString(f.reason) && optionalString(f.detail) ? (f as ServerFrame) : undefined
    case 'nacked':
    case 'extended':
    case 'rejected': {
      const count = f[f.type]
      if (!Array.isArray(f.ids) || typeof count !== 'number' || !optionalString(f.reason) || !optionalString(f.detail)) return undefined
      return { ...(f as object), type: f.type, ids: f.ids as string[], count } as LifecycleAnswer
    }
    case 'error':
    case 'closing':
      return typeof f.reason === 'string' && typeof f.detail === 'string' ? (f as ServerFrame) : undefined
    default:
      return undefined
  }
}

/** The error of a refused first-frame handshake: what the same refusal over HTTP would have thrown. */
export function handshakeError(frame: ErrorFrame): MechaError {
  const status = typeof frame.status === 'number' && Number.isSafeInteger(frame.status) ? frame.status : 0
  if (typeof frame.code !== 'string' || status === 0) return frameError(frame.reason, frame.detail)
  const { type: _frameType, ...body } = frame
  const retryAfter = frame.retry_after
  return new MechaError({
    status, code: frame.code, reason: frame.reason, detail: frame.detail,
    problem: { ...body, type: `urn:mecharim:problem:${frame.reason}`, title: typeof frame.title === 'string' ? frame.title : frame.detail, status, code: frame.code, request_id: frame.request_id ?? '' },
    ...(typeof frame.request_id === 'string' ? { requestId: frame.request_id } : {}),
    ...(typeof retryAfter === 'number' && Number.isSafeInteger(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
  })
}

/** An `error` frame, or an `acked` frame with a reason, as the error of the acknowledgement it answers. */
export function frameError(reason: string, detail: string): MechaError {
  const code = reason === 'invalid_request' ? 'INVALID_ARGUMENT' : CREDENTIAL_REASONS.has(reason) ? 'UNAUTHENTICATED' : 'UNAVAILABLE'
  return new MechaError({ status: 0, code, reason, detail })
}

/** Refusals of the connection's credentials (catalogue code UNAUTHENTICATED) a frame may carry. */
const CREDENTIAL_REASONS = new Set(['invalid_key', 'signature_required', 'bad_signature', 'reauthenticate'])

function optionalString(value: unknown): boolean {
  return value === undefined || typeof value === 'string'
}
