import { describe } from './encoding.js'
import { checkMessageIds } from './ids.js'
import type { DeadLetterOptions, NackOptions, OutgoingMessage, RejectOptions } from './types.js'

/**
 * The arguments of the message-lifecycle calls (issue 14), checked before any request and shaped as
 * the gateway's bodies: POST /v1/inbox/nack, extend and reject (and their WebSocket frames), GET
 * /v1/inbox/dead, and the send fields `ttl_seconds`, `deliver_after` and `receipts`.
 */

/** As the gateway's bound on delays and extensions: 12 hours. */
export const MAX_DELAY_SECONDS = 43_200
const MAX_TTL_SECONDS = 2_592_000
const MAX_DEAD_LETTER_LIMIT = 100
const MESSAGE_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/

/** `{ids, delay_seconds?}` of a nack. */
export function nackBody(ids: readonly string[], options: NackOptions): { ids: string[]; delay_seconds?: number } {
  checkMessageIds(ids)
  checkOptions(options, ['delaySeconds'], 'nack options')
  if (options.delaySeconds === undefined) return { ids: [...ids] }
  return { ids: [...ids], delay_seconds: seconds(options.delaySeconds, 0, MAX_DELAY_SECONDS, 'delaySeconds') }
}

/** The `seconds` of an extend. */
export function extendSeconds(value: unknown): number {
  return seconds(value, 1, MAX_DELAY_SECONDS, 'seconds')
}

/** `{ids, reason?}` of a reject. */
export function rejectBody(ids: readonly string[], options: RejectOptions): { ids: string[]; reason?: string } {
  checkMessageIds(ids)
  checkOptions(options, ['reason'], 'reject options')
  if (options.reason === undefined) return { ids: [...ids] }
  if (typeof options.reason !== 'string') throw new TypeError(`expected reason as a string, got ${describe(options.reason)}`)
  return { ids: [...ids], reason: options.reason }
}

/** The query of GET /v1/inbox/dead: `?limit=&after=`, or ''. */
export function deadLetterQuery(query: DeadLetterOptions): string {
  checkOptions(query, ['limit', 'after'], 'dead letter options')
  const params: string[] = []
  if (query.limit !== undefined) params.push(`limit=${seconds(query.limit, 1, MAX_DEAD_LETTER_LIMIT, 'limit')}`)
  if (query.after !== undefined) {
    if (typeof query.after !== 'string' || !MESSAGE_ID_RE.test(query.after)) throw new TypeError(`expected after as a message id, got ${describe(query.after)}`)
    params.push(`after=${encodeURIComponent(query.after)}`)
  }
  return params.length === 0 ? '' : `?${params.join('&')}`
}

/** `ttl_seconds`, `deliver_after` and `receipts` of a message, from its SDK options. */
export function sendLifecycleFields(message: OutgoingMessage): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  if (message.ttlSeconds !== undefined) fields.ttl_seconds = seconds(message.ttlSeconds, 1, MAX_TTL_SECONDS, 'message.ttlSeconds')
  if (message.deliverAfter !== undefined) fields.deliver_after = unixSeconds(message.deliverAfter)
  if (message.receipts !== undefined) {
    if (typeof message.receipts !== 'boolean') throw new TypeError(`expected message.receipts as a boolean, got ${describe(message.receipts)}`)
    fields.receipts = message.receipts
  }
  return fields
}

function unixSeconds(value: unknown): number {
  if (value instanceof Date) {
    const ms = value.getTime()
    if (!Number.isFinite(ms) || ms < 0) throw new TypeError('expected message.deliverAfter as a valid Date, got an invalid one')
    // Rounded up: never delivered before the time asked for.
    return Math.ceil(ms / 1000)
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`expected message.deliverAfter as whole unix seconds or a Date, got ${describe(value)}`)
  }
  return value
}

function seconds(value: unknown, min: number, max: number, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`expected ${name} as a whole number from ${min} to ${max}, got ${describe(value)}`)
  }
  return value
}

function checkOptions(options: unknown, allowed: readonly string[], where: string): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`expected ${where} as an object, got ${describe(options)}`)
  for (const name of Object.keys(options)) {
    if (!allowed.includes(name)) throw new TypeError(`expected ${where} among ${allowed.join(', ')}, got unknown ${describe(name)}`)
  }
}
