import type { Reason } from '../errors/catalogue.js'
import { MAX_REJECT_DETAIL_LENGTH, type Transport } from '../transport/types.js'

/**
 * The WebSocket frames of a recipient's controls (issue 14), with the fields of their HTTP routes:
 * `{"type":"nack","ids":[...],"delay_seconds"?}`, `{"type":"extend","ids":[...],"seconds"}`,
 * `{"type":"reject","ids":[...],"reason"?}`, each with an optional `ref`. Answered with `nacked`,
 * `extended` or `rejected` (the count, the ids and the ref), or an `error` frame with a catalogue
 * reason, as an ack is.
 */
export type LifecycleFrameType = 'nack' | 'extend' | 'reject'

export type LifecycleFrame =
  | { type: 'nack'; ids: string[]; ref: string | undefined; delaySeconds: number | undefined }
  | { type: 'extend'; ids: string[]; ref: string | undefined; seconds: number }
  | { type: 'reject'; ids: string[]; ref: string | undefined; reason: string | undefined }

export type FrameRefusal = { reason: Reason; detail: string; ref: string | undefined }

const REF_RE = /^[A-Za-z0-9._:-]{1,64}$/
const ID_RE = /^[A-Za-z0-9._:-]{1,128}$/
const TWELVE_HOURS = 43_200
const SHAPES: Record<LifecycleFrameType, string> = {
  nack: 'expected {"type":"nack","ids":[...],"delay_seconds":<optional 0-43200>,"ref":"<optional>"} (1 to 100 ids)',
  extend: 'expected {"type":"extend","ids":[...],"seconds":<1-43200>,"ref":"<optional>"} (1 to 100 ids)',
  reject: `expected {"type":"reject","ids":[...],"reason":"<optional, at most ${MAX_REJECT_DETAIL_LENGTH} characters>","ref":"<optional>"} (1 to 100 ids)`,
}

/** The frame's type when it is one of these (else the ack parser answers it). */
export function lifecycleFrameType(frame: unknown): LifecycleFrameType | undefined {
  const type = (frame as { type?: unknown } | null)?.type
  return type === 'nack' || type === 'extend' || type === 'reject' ? type : undefined
}

export function parseLifecycleFrame(type: LifecycleFrameType, frame: Record<string, unknown>): LifecycleFrame | FrameRefusal {
  const { ids, ref } = frame
  if (ref !== undefined && (typeof ref !== 'string' || !REF_RE.test(ref))) return { reason: 'invalid_request', detail: '`ref` must be 1 to 64 characters of A-Z a-z 0-9 . _ : -', ref: undefined }
  const reference = ref as string | undefined
  const shape = { reason: 'invalid_request' as const, detail: SHAPES[type], ref: reference }
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100) return shape
  if (!ids.every((id): id is string => typeof id === 'string' && ID_RE.test(id))) return { reason: 'invalid_id', detail: 'message ids are 1 to 128 characters of A-Z a-z 0-9 . _ : -', ref: reference }
  const seconds = (value: unknown, min: number): value is number => Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= TWELVE_HOURS
  switch (type) {
    case 'nack':
      if (frame.delay_seconds !== undefined && !seconds(frame.delay_seconds, 0)) return shape
      return { type, ids, ref: reference, delaySeconds: frame.delay_seconds as number | undefined }
    case 'extend':
      if (!seconds(frame.seconds, 1)) return shape
      return { type, ids, ref: reference, seconds: frame.seconds as number }
    case 'reject':
      if (frame.reason !== undefined && (typeof frame.reason !== 'string' || frame.reason.length > MAX_REJECT_DETAIL_LENGTH)) return shape
      return { type, ids, ref: reference, reason: frame.reason as string | undefined }
  }
}

/** Runs a parsed frame on the recipient's inbox; returns the answer frame's fields. */
export async function runLifecycleFrame(transport: Transport, mecha: string, frame: LifecycleFrame, now: number): Promise<Record<string, unknown>> {
  switch (frame.type) {
    case 'nack': {
      const nacked = await transport.nack(mecha, frame.ids, { now, ...(frame.delaySeconds === undefined ? {} : { delayMs: frame.delaySeconds * 1000 }) })
      return { type: 'nacked', ids: frame.ids, nacked }
    }
    case 'extend':
      return { type: 'extended', ids: frame.ids, extended: await transport.extend(mecha, frame.ids, { now, visibilityMs: frame.seconds * 1000 }) }
    case 'reject': {
      const rejected = await transport.reject(mecha, frame.ids, { now, ...(frame.reason === undefined ? {} : { detail: frame.reason }) })
      return { type: 'rejected', ids: frame.ids, rejected: rejected.length }
    }
  }
}
