/**
 * The Mechagram transport: durable per-recipient inboxes with at-least-once delivery.
 *
 * Accepting a message also records the request's nonce in the replay cache, in the same atomic step
 * (one Lua script on Redis, one transaction on LMDB): a 202 costs one round trip, and a nonce is never
 * burned without its message being stored, nor a message stored without its nonce.
 *
 * One contract suite (test/contract/transport.contract.ts) runs against every implementation.
 */

/** A message as stored and delivered. */
export interface Message {
  id: string
  from: string
  to: string
  kind: string
  payload: unknown
  reply_to: string | null
  /** RFC 3339, set by the gateway when it accepted the message. */
  accepted_at: string
}

export interface DeliveredMessage extends Message {
  /** 1 on first delivery; more when an unacknowledged message is delivered again. */
  delivery_count: number
}

/** The replay-cache part of an accept (or of any other authenticated request). */
export interface NonceClaim {
  keyId: string
  nonce: string
  /** The request's Mecha-Timestamp, unix seconds. */
  timestamp: number
  /** How long the nonce must be remembered: longer than the timestamp window on both sides. */
  ttlSeconds: number
  /** Server time, unix milliseconds. */
  now: number
}

export interface AcceptInput {
  claim: NonceClaim
  message: Message
  /** Set when the client supplied `id`: a second accept with the same (from, id) returns the first. */
  idempotent: boolean
  /** How long an idempotency record is kept. */
  idempotencyTtlSeconds: number
}

export type AcceptResult =
  | { outcome: 'accepted'; message: Message }
  /** Same sender and client id as an earlier accept: nothing stored, the original returned. */
  | { outcome: 'duplicate'; message: Message }
  | { outcome: 'replayed' }
  /** The request was signed before the replay cache's memory begins (it came back empty): refuse. */
  | { outcome: 'before_epoch'; epoch: number }
  /** The recipient's inbox holds the maximum number of unacknowledged messages. */
  | { outcome: 'inbox_full' }

export interface ReadOptions {
  limit: number
  /** A delivered message that is not acknowledged within this time is delivered again. */
  visibilityMs: number
  /** Server time, unix milliseconds. */
  now: number
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
