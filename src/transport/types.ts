/**
 * The Mechagram transport: durable per-recipient inboxes with at-least-once delivery.
 *
 * Accepting a message also records the request's nonce in the replay cache, in the same atomic step
 * (one Lua script on Redis, one transaction on LMDB): a 202 costs one round trip, and a nonce is never
 * burned without its message being stored, nor a message stored without its nonce.
 *
 * One contract suite (test/contract/transport.contract.ts) runs against every implementation.
 */

import type { StoragePressure } from '../stores/high-water.js'

/** A message as stored and delivered. */
export interface Message {
  /** Assigned by the gateway (`msg_<ulid>`), unique in the recipient's inbox: what the recipient acks. */
  id: string
  from: string
  to: string
  kind: string
  payload: unknown
  reply_to: string | null
  /** The sender's Idempotency-Key, when it sent one: a recipient deduplicates by (from, idempotency_key). */
  idempotency_key: string | null
  /** RFC 3339, set by the gateway when it accepted the message. */
  accepted_at: string
  /** The session (`ses_...`) the message belongs to; absent outside sessions. */
  session?: string
  /** The sender's `ttl_seconds`: never delivered later than this after `accepted_at` (then dead-lettered, `expired`). */
  ttl_seconds?: number
  /** The sender's `deliver_after` (unix seconds): not delivered before. */
  deliver_after?: number
  /** The sender's `receipts`: false when it wants no `mecha.delivery.failed` receipt. */
  receipts?: boolean
}

export interface DeliveredMessage extends Message {
  /** 1 on first delivery; more when an unacknowledged message is delivered again. */
  delivery_count: number
}

/** The replay-cache part of an accept (or of any other authenticated request). */
export interface NonceClaim {
  keyId: string
  nonce: string
  /**
   * The mecha the request is addressed to: the recipient of a message, the calling mecha on every other
   * route. On Redis Cluster the nonce is kept in that mecha's slot, so a (key, nonce) pair is accepted
   * once per target mecha (docs/protocol.md, "The nonce rule"); the other stores remember it once per key.
   * An accept's claim must name the message's recipient.
   */
  target: string
  /** The request's Mecha-Timestamp, unix seconds. */
  timestamp: number
  /** How long the nonce must be remembered: longer than the timestamp window on both sides. */
  ttlSeconds: number
  /** Server time, unix milliseconds. */
  now: number
}

/** What a 202 answers; all an idempotency record keeps of the message. */
export type MessageAcceptance = Pick<Message, 'id' | 'from' | 'to' | 'kind' | 'accepted_at'>

/** The sender's Idempotency-Key and the fingerprint of its request (IETF httpapi idempotency-key draft). */
export interface IdempotencyClaim {
  /** The key, scoped to the sender (`message.from`). */
  key: string
  /** SHA-256 (64 lowercase hex digits) of the request: method, path and body bytes. */
  requestSha256: string
  /**
   * Scope the record to the recipient too, on every store (on Redis Cluster it always is): one request
   * delivered to several recipients (a session message, a notification) keeps one record per recipient.
   */
  perRecipient?: boolean
}

/**
 * Where an idempotency key's record lives beyond its sender: the key itself, or `<key>@<recipient>`
 * for a per-recipient claim (`@` is in neither a key nor a mecha id, so the two never collide).
 */
export function idempotencyScope(claim: IdempotencyClaim, to: string): string {
  return claim.perRecipient === true ? `${claim.key}@${to}` : claim.key
}

export interface AcceptInput {
  /**
   * The request's nonce, recorded atomically with the message. Null when there is none to record here:
   * a message the gateway itself sends (a session notification), or the second and later deliveries of
   * one request that fans out (its nonce was recorded with the first). Then `now` is required.
   */
  claim: NonceClaim | null
  /** Server time, unix milliseconds, when `claim` is null (else the claim's `now`). */
  now?: number
  message: Message
  /**
   * Set when the request carried an Idempotency-Key: a second accept with the same (from, key) and the
   * same request digest returns the first acceptance; with another digest it is refused.
   */
  idempotency: IdempotencyClaim | null
  /** How long an idempotency record is kept. */
  idempotencyTtlSeconds: number
  /** Unix ms before which the message is not delivered (from its `deliver_after`); absent: at once. */
  deliverAt?: number
  /**
   * Unix ms from which the message is never delivered (from its `ttl_seconds`): the first read that
   * finds it due then moves it to the dead letters with reason `expired`.
   */
  expiresAt?: number
}

export type AcceptResult =
  | { outcome: 'accepted'; message: Message }
  /** Same sender, key and request as an earlier accept: nothing stored, the original acceptance returned. */
  | { outcome: 'duplicate'; acceptance: MessageAcceptance }
  /** Same sender and key as an earlier accept, but another request: nothing stored. */
  | { outcome: 'idempotency_key_reused' }
  | { outcome: 'replayed' }
  /** The request was signed before the replay cache's memory begins (it came back empty): refuse. */
  | { outcome: 'before_epoch'; epoch: number }
  /** The recipient's inbox would hold more than its limit of unacknowledged messages, or of their bytes. */
  | { outcome: 'inbox_full'; by: BudgetKind }
  /** The sender would hold more than its share of the recipient's inbox (messages or bytes); other senders still get through. */
  | { outcome: 'sender_share_exceeded'; by: BudgetKind }
  /**
   * The store is over its high-water mark (stores/high-water.ts): nothing stored and, unlike every
   * other refusal here, the nonce not recorded (nothing was written at all).
   */
  | { outcome: 'storage_full' }

/** Which budget of an inbox refused: its message count or its bytes. */
export type BudgetKind = 'messages' | 'bytes'

/** The limits of one inbox (MECHA_INBOX_LIMIT, MECHA_INBOX_MAX_BYTES, MECHA_INBOX_SENDER_SHARE). */
export interface InboxBudgetOptions {
  /** Unacknowledged messages one inbox may hold (default DEFAULT_INBOX_LIMIT). */
  inboxLimit?: number
  /** Bytes of unacknowledged messages, as stored (UTF-8 JSON), one inbox may hold (default DEFAULT_INBOX_MAX_BYTES). */
  inboxMaxBytes?: number
  /** Share, in (0, 1], of both that one sender may hold (default DEFAULT_INBOX_SENDER_SHARE). */
  senderShare?: number
}

/** What every transport takes beside its store and the replay cache's rules. */
export interface TransportOptions extends InboxBudgetOptions {
  /**
   * The store's high-water mark (MECHA_STORAGE_HIGH_WATER): while it refuses, accept answers
   * `storage_full` and writes nothing; reads and acks never ask it. Without one, accept never does.
   */
  pressure?: StoragePressure
}

/**
 * The recipient's delivery policy (PATCH /v1/mechas/{id} `delivery`, in ms here), passed with every
 * call that may move a message: the transport keeps none of it, so a changed policy applies from the
 * next call on. Every field is optional; absent, the transport behaves as before policies existed
 * (deliveries without limit, no backoff) and keeps dead letters DEFAULT_DEAD_LETTER_TTL_MS.
 */
export interface DeliveryPolicy {
  /**
   * Deliveries of one message without an ack: the read that would deliver it once more moves it to the
   * dead letters instead (reason `max_deliveries`), in the same script or transaction. At least 1.
   */
  maxDeliveries?: number
  /**
   * Waits between deliveries: after delivery n (n < maxDeliveries) that is not acknowledged, the message
   * is visible again `backoffMs[n - 1]` (the last one repeated) after its visibility timeout, and a
   * nack without a delay waits the same. Empty: no wait.
   */
  backoffMs?: readonly number[]
  /** How long a dead letter is kept; it counts against the inbox byte budget until then. */
  deadLetterTtlMs?: number
}

export interface ReadOptions {
  limit: number
  /** A delivered message that is not acknowledged within this time is delivered again. */
  visibilityMs: number
  /** Server time, unix milliseconds. */
  now: number
  policy?: DeliveryPolicy
}

/** Why a message left the inbox for the dead letters. */
export type DeadLetterReason = 'max_deliveries' | 'expired' | 'rejected'

/** A message in the recipient's dead letters. */
export interface DeadLetter {
  message: Message
  reason: DeadLetterReason
  /** How many times it had been delivered. */
  deliveries: number
  /** When it was dead-lettered, unix ms. */
  deadLetteredAt: number
  /** When it is removed by itself, unix ms. */
  expiresAt: number
  /** The recipient's `reason` of a reject, when it gave one. */
  detail?: string
}

export interface ReadResult {
  /** Visible now, oldest first (redeliveries included). */
  messages: DeliveredMessage[]
  /**
   * When (unix ms, the caller's clock) the next message becomes due (a redelivery, a deferred message,
   * an expiry), so that a waiting reader can sleep until then instead of polling; `now` or earlier
   * when more may be due already (the read took `limit` messages); undefined when nothing is waiting
   * for a time (then only an arrival makes anything visible).
   */
  nextDueAt: number | undefined
  /**
   * What this read moved to the dead letters instead of delivering (expired, or delivered
   * `maxDeliveries` times): the caller tells their senders (transport/receipts.ts).
   */
  deadLettered: DeadLetter[]
}

export interface NackOptions {
  now: number
  /** Visible again this long from now; absent: the policy's backoff after the message's deliveries. */
  delayMs?: number
  policy?: DeliveryPolicy
}

export interface ExtendOptions {
  now: number
  /** Invisible until this long from now, bounded at MAX_VISIBILITY_MS after its latest delivery. */
  visibilityMs: number
}

export interface RejectOptions {
  now: number
  /** The recipient's reason, kept with the dead letter (at most MAX_REJECT_DETAIL_LENGTH characters). */
  detail?: string
  policy?: DeliveryPolicy
}

export interface DeadLetterListOptions {
  now: number
  limit: number
  /** Only dead letters whose message id sorts after this one (the last id of the previous page). */
  after?: string
}

export interface ReadResult {
  /** Visible now, oldest first (redeliveries included). */
  messages: DeliveredMessage[]
  /**
   * When (unix ms, the caller's clock) the earliest delivered-but-unacknowledged message becomes
   * visible again, so that a waiting reader can sleep until then instead of polling; `now` or earlier
   * when more may be visible already (the read returned `limit` messages); undefined when nothing is
   * in flight (then only an arrival makes anything visible).
   */
  nextDueAt: number | undefined
}

export interface Transport {
  accept(input: AcceptInput): Promise<AcceptResult>
  /**
   * Non-blocking: messages visible now, and when the next redelivery falls due, in one round trip.
   * Waiting is the caller's (gateway/wait-for-messages.ts).
   */
  read(recipient: string, options: ReadOptions): Promise<ReadResult>
  /** Acknowledge delivered messages by id; unknown or undelivered ids are ignored. Returns how many were removed. */
  ack(recipient: string, ids: readonly string[]): Promise<number>
  /**
   * Delivered, unacknowledged messages of `recipient` become visible again after the delay (default:
   * the policy's backoff). Other ids are ignored. Returns how many were rescheduled.
   */
  nack(recipient: string, ids: readonly string[], options: NackOptions): Promise<number>
  /** Delivered, unacknowledged messages stay invisible longer (ExtendOptions). Returns how many. */
  extend(recipient: string, ids: readonly string[], options: ExtendOptions): Promise<number>
  /** Delivered, unacknowledged messages move to the dead letters now (reason `rejected`); returns them. */
  reject(recipient: string, ids: readonly string[], options: RejectOptions): Promise<DeadLetter[]>
  /** The recipient's dead letters that have not expired, by message id. */
  deadLetters(recipient: string, options: DeadLetterListOptions): Promise<DeadLetter[]>
  /**
   * Dead letters back into the inbox: same id, delivery count 0, no expiry or deferral (the recipient
   * asked for them again), deliverable at once. Returns how many were moved.
   */
  redrive(recipient: string, ids: readonly string[], options: { now: number }): Promise<number>
  /** Removes dead letters (their bytes go back to the budget). Returns how many were removed. */
  purge(recipient: string, ids: readonly string[], options: { now: number }): Promise<number>
  /**
   * Called (best effort, possibly from another process) when a message for `recipient` is accepted.
   * May also be called when none was: when the announcements become live (an accept announced before
   * could have been missed), so a listener reads again rather than trusting it to mean a message.
   */
  onArrival(recipient: string, listener: () => void): () => void
  ping(): Promise<void>
  close(): Promise<void>
}

/** Unacknowledged messages one inbox may hold; beyond it, accept answers `inbox_full`. */
export const DEFAULT_INBOX_LIMIT = 10_000
/** Bytes of unacknowledged messages one inbox may hold: 64 MiB. */
export const DEFAULT_INBOX_MAX_BYTES = 64 * 1024 * 1024
/** The share of an inbox's budgets one sender may hold. */
export const DEFAULT_INBOX_SENDER_SHARE = 0.5

/** Dead letters are kept this long unless the policy says otherwise: 14 days. */
export const DEFAULT_DEAD_LETTER_TTL_MS = 14 * 24 * 3600 * 1000
/** An extend keeps a message invisible at most this long after its delivery: 12 hours, as SQS. */
export const MAX_VISIBILITY_MS = 12 * 3600 * 1000
/** The longest reject reason kept with a dead letter. */
export const MAX_REJECT_DETAIL_LENGTH = 256
