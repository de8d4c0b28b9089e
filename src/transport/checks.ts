/** The argument checks every Transport implementation runs, so each refuses the same misuse with the same message. */
import { DependencyUnavailableError } from '../errors/faults.js'
import type { StoragePressure } from '../stores/high-water.js'
import {
  DEFAULT_DEAD_LETTER_TTL_MS, DEFAULT_INBOX_LIMIT, DEFAULT_INBOX_MAX_BYTES, DEFAULT_INBOX_SENDER_SHARE, MAX_REJECT_DETAIL_LENGTH,
  type AcceptInput, type DeadLetterListOptions, type DeliveryPolicy, type ExtendOptions, type InboxBudgetOptions, type Message, type MessageAcceptance,
  type NackOptions, type ReadOptions, type RejectOptions,
} from './types.js'

/** A listener's failure is not the sender's: arrival announcements are best effort. */
export function callListener(listener: () => void): void {
  try {
    listener()
  } catch {
    // deliberately ignored: the reader still finds the message on its next poll
  }
}

/** An inbox's budgets, checked, with each sender's share of them worked out once. */
export interface InboxBudget {
  messages: number
  bytes: number
  senderMessages: number
  senderBytes: number
}

/**
 * The budgets every transport enforces alike. A sender's share is rounded down but never below one
 * message (or the largest message's bytes would never fit), so a share of 1 is the whole inbox.
 */
export function inboxBudget(options: InboxBudgetOptions): InboxBudget {
  const messages = options.inboxLimit ?? DEFAULT_INBOX_LIMIT
  const bytes = options.inboxMaxBytes ?? DEFAULT_INBOX_MAX_BYTES
  const share = options.senderShare ?? DEFAULT_INBOX_SENDER_SHARE
  if (!Number.isSafeInteger(messages) || messages <= 0) throw new RangeError(`expected inboxLimit to be a positive integer, got ${messages}`)
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new RangeError(`expected inboxMaxBytes to be a positive integer, got ${bytes}`)
  if (typeof share !== 'number' || !(share > 0 && share <= 1)) throw new RangeError(`expected senderShare to be above 0 and at most 1, got ${share}`)
  return {
    messages, bytes, senderMessages: Math.max(1, Math.floor(messages * share)), senderBytes: Math.max(1, Math.floor(bytes * share)),
  }
}

/** What an inbox holds now, in all and from one sender. */
export interface InboxUsage {
  messages: number
  bytes: number
  senderMessages: number
  senderBytes: number
}

/**
 * Whether one more message of `size` bytes fits: the inbox as a whole first (full is full, for every
 * sender; with a share of 1 it is the only answer), then the sender's share of it. The Redis accept
 * script (redis-lua.ts) applies the same rule in Lua, in the same order; the contract suite holds both
 * to it.
 */
export function budgetRefusal(budget: InboxBudget, usage: InboxUsage, size: number): { outcome: 'inbox_full' | 'sender_share_exceeded'; by: 'messages' | 'bytes' } | undefined {
  if (usage.messages + 1 > budget.messages) return { outcome: 'inbox_full', by: 'messages' }
  if (usage.bytes + size > budget.bytes) return { outcome: 'inbox_full', by: 'bytes' }
  if (usage.senderMessages + 1 > budget.senderMessages) return { outcome: 'sender_share_exceeded', by: 'messages' }
  if (usage.senderBytes + size > budget.senderBytes) return { outcome: 'sender_share_exceeded', by: 'bytes' }
  return undefined
}

/** A transport's `options.pressure`, checked when it is constructed. */
export function checkStoragePressure(pressure: StoragePressure | undefined): StoragePressure | undefined {
  if (pressure === undefined) return undefined
  if (typeof pressure?.refuses !== 'function' || typeof pressure.stored !== 'function') {
    throw new TypeError(`expected options.pressure to be a storage high-water mark (refuses, stored), got ${String(pressure)}`)
  }
  return pressure
}

/**
 * Whether the store's high-water mark refuses new messages now; asked by every accept before it writes
 * anything. A store that cannot be sampled fails the accept closed (503 transport_unavailable).
 */
export function storageRefuses(pressure: StoragePressure | undefined): boolean | Promise<boolean> {
  if (pressure === undefined) return false
  // Synchronous between samples (nearly every accept): no promise, no await.
  let refuses: boolean | Promise<boolean>
  try {
    refuses = pressure.refuses()
  } catch (err) {
    throw new DependencyUnavailableError('transport', err)
  }
  if (!(refuses instanceof Promise)) return refuses
  return refuses.catch((err: unknown) => { throw new DependencyUnavailableError('transport', err) })
}

/** What a message counts against the byte budgets: its stored form, UTF-8 JSON. */
export function storedBytes(messageJson: string): number {
  return Buffer.byteLength(messageJson, 'utf8')
}

const MESSAGE_STRING_FIELDS = ['id', 'from', 'to', 'kind', 'accepted_at'] as const

export function checkAcceptInput(input: AcceptInput): void {
  if (typeof input !== 'object' || input === null) throw new TypeError(`expected an accept input, got ${String(input)}`)
  const message = input.message
  if (typeof message !== 'object' || message === null) throw new TypeError(`expected input.message to be a message, got ${String(message)}`)
  for (const field of MESSAGE_STRING_FIELDS) {
    if (typeof message[field] !== 'string' || message[field] === '') {
      throw new TypeError(`expected message.${field} to be a non-empty string, got ${JSON.stringify(message[field])}`)
    }
  }
  if (input.claim === null) {
    if (!Number.isSafeInteger(input.now) || (input.now as number) < 0) throw new TypeError(`expected input.now (unix ms) with no nonce claim, got ${String(input.now)}`)
  } else if (input.claim?.target !== message.to) {
    throw new TypeError(`expected the accept's nonce claim to target the recipient ${JSON.stringify(message.to)}, got ${JSON.stringify(input.claim?.target)}`)
  }
  if (message.session !== undefined && (typeof message.session !== 'string' || message.session === '')) {
    throw new TypeError(`expected message.session to be a non-empty string when set, got ${JSON.stringify(message.session)}`)
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
  checkSchedule(input)
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
  resolvePolicy(options.policy)
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

/** Server time of an accept: its claim's, or `now` when it records no nonce (checked by checkAcceptInput). */
export function acceptTime(input: AcceptInput): number {
  return input.claim?.now ?? (input.now as number)
}

/** A delivery policy with its defaults filled in: `maxDeliveries` 0 means no limit. */
export interface ResolvedPolicy {
  maxDeliveries: number
  backoffMs: readonly number[]
  deadLetterTtlMs: number
}

/** Checks a DeliveryPolicy (every field optional) and fills in the defaults. */
export function resolvePolicy(policy: DeliveryPolicy | undefined): ResolvedPolicy {
  if (policy === undefined) return { maxDeliveries: 0, backoffMs: [], deadLetterTtlMs: DEFAULT_DEAD_LETTER_TTL_MS }
  if (typeof policy !== 'object' || policy === null) throw new TypeError(`expected a delivery policy, got ${String(policy)}`)
  const { maxDeliveries, backoffMs = [], deadLetterTtlMs = DEFAULT_DEAD_LETTER_TTL_MS } = policy
  if (maxDeliveries !== undefined && (!Number.isSafeInteger(maxDeliveries) || maxDeliveries < 1)) {
    throw new RangeError(`expected policy.maxDeliveries to be a positive integer, got ${maxDeliveries}`)
  }
  if (!Array.isArray(backoffMs)) throw new TypeError(`expected policy.backoffMs to be an array, got ${typeof backoffMs}`)
  for (const wait of backoffMs) {
    if (!Number.isSafeInteger(wait) || wait < 0) throw new RangeError(`expected every policy.backoffMs to be a non-negative integer, got ${wait}`)
  }
  if (!Number.isSafeInteger(deadLetterTtlMs) || deadLetterTtlMs <= 0) throw new RangeError(`expected policy.deadLetterTtlMs to be a positive integer, got ${deadLetterTtlMs}`)
  return { maxDeliveries: maxDeliveries ?? 0, backoffMs, deadLetterTtlMs }
}

/**
 * How long a message waits before it is delivered again after its `deliveries`-th delivery: the
 * backoff's entry for it (the last one repeated), and none after the last delivery the policy allows
 * (the next due read dead-letters it, there is nothing to wait for).
 */
export function backoffAfter(policy: ResolvedPolicy, deliveries: number): number {
  if (policy.maxDeliveries > 0 && deliveries >= policy.maxDeliveries) return 0
  if (policy.backoffMs.length === 0 || deliveries < 1) return 0
  return policy.backoffMs[Math.min(deliveries, policy.backoffMs.length) - 1] ?? 0
}

/** When a message is due: visible again, or expired, whichever comes first. */
export function dueAt(visibleAt: number, expiresAt: number | undefined): number {
  return expiresAt === undefined ? visibleAt : Math.min(visibleAt, expiresAt)
}

export function checkNow(now: number): void {
  if (!Number.isSafeInteger(now) || now < 0) throw new RangeError(`expected now to be unix milliseconds, got ${now}`)
}

/** The arguments of nack, extend, reject, redrive and purge: a recipient, ids and `now`. */
export function checkLifecycleCall(recipient: string, ids: readonly string[], options: { now: number }): void {
  checkAckIds(recipient, ids)
  if (typeof options !== 'object' || options === null) throw new TypeError(`expected options, got ${String(options)}`)
  checkNow(options.now)
}

export function checkNackOptions(options: NackOptions): void {
  if (options.delayMs !== undefined && (!Number.isSafeInteger(options.delayMs) || options.delayMs < 0)) {
    throw new RangeError(`expected delayMs to be a non-negative integer, got ${options.delayMs}`)
  }
  resolvePolicy(options.policy)
}

export function checkExtendOptions(options: ExtendOptions): void {
  if (!Number.isSafeInteger(options.visibilityMs) || options.visibilityMs <= 0) {
    throw new RangeError(`expected visibilityMs to be a positive integer, got ${options.visibilityMs}`)
  }
}

export function checkRejectOptions(options: RejectOptions): void {
  const detail = options.detail
  if (detail !== undefined && typeof detail !== 'string') throw new TypeError(`expected detail to be a string, got ${typeof detail}`)
  if (detail !== undefined && detail.length > MAX_REJECT_DETAIL_LENGTH) {
    throw new RangeError(`expected detail to be at most ${MAX_REJECT_DETAIL_LENGTH} characters, got ${detail.length}`)
  }
  resolvePolicy(options.policy)
}

export function checkDeadLetterListOptions(recipient: string, options: DeadLetterListOptions): void {
  checkRecipient(recipient)
  if (typeof options !== 'object' || options === null) throw new TypeError(`expected options, got ${String(options)}`)
  checkNow(options.now)
  if (!Number.isSafeInteger(options.limit) || options.limit < 0) throw new RangeError(`expected limit to be a non-negative integer, got ${options.limit}`)
  if (options.after !== undefined && (typeof options.after !== 'string' || options.after === '')) {
    throw new TypeError(`expected after to be a non-empty string, got ${JSON.stringify(options.after)}`)
  }
}

/** An accept's `deliverAt` and `expiresAt`, when set: unix ms. */
export function checkSchedule(input: AcceptInput): void {
  for (const field of ['deliverAt', 'expiresAt'] as const) {
    const value = input[field]
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) throw new RangeError(`expected input.${field} to be unix milliseconds, got ${value}`)
  }
}
