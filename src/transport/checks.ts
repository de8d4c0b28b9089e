/** The argument checks every Transport implementation runs, so each refuses the same misuse with the same message. */
import type { AcceptInput, ReadOptions } from './types.js'

/** A listener's failure is not the sender's: arrival announcements are best effort. */
export function callListener(listener: () => void): void {
  try {
    listener()
  } catch {
    // deliberately ignored: the reader still finds the message on its next poll
  }
}

export function checkInboxLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError(`expected inboxLimit to be a positive integer, got ${limit}`)
  return limit
}

export function checkAcceptInput(input: AcceptInput): void {
  if (typeof input !== 'object' || input === null) throw new TypeError(`expected an accept input, got ${String(input)}`)
  const message = input.message
  if (typeof message !== 'object' || message === null) throw new TypeError(`expected input.message to be a message, got ${String(message)}`)
  for (const field of ['id', 'from', 'to', 'kind', 'accepted_at'] as const) {
    if (typeof message[field] !== 'string' || message[field] === '') {
      throw new TypeError(`expected message.${field} to be a non-empty string, got ${JSON.stringify(message[field])}`)
    }
  }
  if (typeof input.idempotent !== 'boolean') throw new TypeError(`expected input.idempotent to be a boolean, got ${typeof input.idempotent}`)
  if (!Number.isSafeInteger(input.idempotencyTtlSeconds) || input.idempotencyTtlSeconds <= 0) {
    throw new RangeError(`expected input.idempotencyTtlSeconds to be a positive integer, got ${input.idempotencyTtlSeconds}`)
  }
}

export function checkReadOptions(recipient: string, options: ReadOptions): void {
  checkRecipient(recipient)
  if (typeof options !== 'object' || options === null) throw new TypeError(`expected read options, got ${String(options)}`)
  if (!Number.isSafeInteger(options.limit) || options.limit < 0) throw new RangeError(`expected limit to be a non-negative integer, got ${options.limit}`)
  if (!Number.isSafeInteger(options.visibilityMs) || options.visibilityMs <= 0) {
    throw new RangeError(`expected visibilityMs to be a positive integer, got ${options.visibilityMs}`)
  }
  if (!Number.isFinite(options.now)) throw new RangeError(`expected now to be unix milliseconds, got ${options.now}`)
}

export function checkAckIds(recipient: string, ids: readonly string[]): void {
  checkRecipient(recipient)
  if (!Array.isArray(ids)) throw new TypeError(`expected ids to be an array, got ${typeof ids}`)
  for (const id of ids) {
    if (typeof id !== 'string' || id === '') throw new TypeError(`expected every id to be a non-empty string, got ${JSON.stringify(id)}`)
  }
}

function checkRecipient(recipient: string): void {
  if (typeof recipient !== 'string' || recipient === '') throw new TypeError(`expected recipient to be a non-empty string, got ${JSON.stringify(recipient)}`)
}
