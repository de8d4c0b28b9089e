/** The argument checks every Transport implementation runs, so each refuses the same misuse with the same message. */
import type { AcceptInput, Message, MessageAcceptance, ReadOptions } from './types.js'

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
  if (message.idempotency_key !== null && (typeof message.idempotency_key !== 'string' || message.idempotency_key === '')) {
    throw new TypeError(`expected message.idempotency_key to be a non-empty string or null, got ${JSON.stringify(message.idempotency_key)}`)
  }
  const idempotency = input.idempotency
  if (idempotency !== null && typeof idempotency !== 'object') {
    throw new TypeError(`expected input.idempotency to be an idempotency claim or null, got ${String(idempotency)}`)
  }
  if ((idempotency?.key ?? null) !== message.idempotency_key) {
    throw new TypeError(`expected input.idempotency.key to equal message.idempotency_key (${JSON.stringify(message.idempotency_key)}), got ${JSON.stringify(idempotency?.key ?? null)}`)
  }
  if (idempotency !== null) {
    if (typeof idempotency.requestSha256 !== 'string' || !SHA256_HEX_RE.test(idempotency.requestSha256)) {
      throw new TypeError(`expected input.idempotency.requestSha256 to be 64 lowercase hex digits, got ${JSON.stringify(idempotency.requestSha256)}`)
    }
  }
  if (!Number.isSafeInteger(input.idempotencyTtlSeconds) || input.idempotencyTtlSeconds <= 0) {
    throw new RangeError(`expected input.idempotencyTtlSeconds to be a positive integer, got ${input.idempotencyTtlSeconds}`)
  }
}

const SHA256_HEX_RE = /^[0-9a-f]{64}$/

/** What an accept answers, and what an idempotency record keeps: never the payload. */
export function acceptanceOf(message: Message): MessageAcceptance {
  const { id, from, to, kind, accepted_at } = message
  return { id, from, to, kind, accepted_at }
}

/**
 * The gateway assigns ids (unique by construction): one already in the inbox is a fault, not a refusal.
 * Nothing was written (the check runs before the nonce claim).
 */
export function duplicateIdFault(message: Message): Error {
  return new Error(`message id ${message.id} is already in the inbox of ${message.to}: ids are assigned by the gateway and must be unique per inbox`)
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
