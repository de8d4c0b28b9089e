import { EventEmitter } from 'node:events'
import type { Database } from 'lmdb'
import { DependencyUnavailableError } from '../errors/faults.js'
import { checkNonceClaim } from '../replay/claim.js'
import { EmbeddedNonces } from '../replay/embedded.js'
import { DEFAULT_MAX_FUTURE_SKEW_SECONDS, type ReplayRules } from '../replay/types.js'
import type { EmbeddedDatabase } from '../stores/embedded/database.js'
import type { StoragePressure } from '../stores/high-water.js'
import {
  acceptanceOf, acceptTime, backoffAfter, budgetRefusal, callListener, checkAcceptInput, checkAckIds, checkDeadLetterListOptions, checkExtendOptions, checkLifecycleCall,
  checkNackOptions, checkReadOptions, checkRejectOptions, checkStoragePressure, duplicateIdFault, dueAt, inboxBudget, resolvePolicy, storageRefuses, storedBytes,
  type InboxBudget, type ResolvedPolicy,
} from './checks.js'
import {
  idempotencyScope, MAX_VISIBILITY_MS,
  type AcceptInput, type AcceptResult, type DeadLetter, type DeadLetterListOptions, type DeadLetterReason, type DeliveredMessage, type ExtendOptions, type Message,
  type MessageAcceptance, type NackOptions, type ReadOptions, type ReadResult, type RejectOptions, type Transport, type TransportOptions,
} from './types.js'

/** How often expired nonces and idempotency records are deleted. */
const SWEEP_INTERVAL_MS = 60_000
/** Expired idempotency records removed per sweep transaction. */
const SWEEP_BATCH = 1000
/** Sorts after every number and every id in the second element of a key: the end of a recipient's range. */
const RANGE_END = '\uffff'

interface InboxEntry {
  message: Message
  /** Unix ms from which the entry may be delivered (again); 0 (or its deliverAt) until first delivered. */
  visible_at: number
  delivery_count: number
  /** What it counts against the byte budgets; absent on entries of versions before the budgets. */
  bytes?: number
  /** Unix ms from which it is never delivered (AcceptInput.expiresAt). */
  expires_at?: number
  /** Unix ms of its latest delivery (what extend is bounded by). */
  delivered_at?: number
}

/** A dead letter as stored: what DeadLetter shows, and the bytes it still holds of the budget. */
interface DeadRecord {
  message: Message
  reason: DeadLetterReason
  deliveries: number
  at: number
  expires_at: number
  bytes: number
  detail?: string
}

/** An inbox entry found by its message id. */
interface Found {
  seq: number
  entry: InboxEntry
  idKey: [string, string, number]
}

/** The acceptance and the request's digest: never the message (a retry is answered, not re-delivered). */
interface IdempotencyRecord {
  acceptance: MessageAcceptance
  requestSha256: string
  expiresAt: number
}

type MetaKey = 'seq' | ['count' | 'bytes', string] | ['sender-count' | 'sender-bytes', string, string]

/**
 * The Mechagram transport on LMDB, in the same environment as the control store and the replay cache.
 * Named databases:
 *
 * - `inbox`: [recipient, seq] -> { message, visible_at, delivery_count, bytes, expires_at?, delivered_at? },
 *   seq increasing, so a recipient's range is oldest first. An entry is due at min(visible_at, expires_at).
 * - `dead-letters`: [recipient, message id] -> { message, reason, deliveries, at, expires_at, bytes,
 *   detail? }, and `dead-letter-expiry`: [recipient, expires_at, id] -> true. A dead letter keeps its
 *   bytes in the byte counters until it expires (removed by the recipient's next read, redrive or
 *   listing, or by an accept it would otherwise refuse) or is purged.
 * - `inbox-ids`: [recipient, message id, seq] -> true. Ids are the gateway's and unique per inbox (an
 *   accept refuses one already there); the seq in the key is what ack needs.
 * - `inbox-meta`: 'seq' -> last seq; ['count', recipient] and ['bytes', recipient] -> unacknowledged
 *   messages and their bytes (and the dead letters' bytes); ['sender-count' | 'sender-bytes', recipient, from] -> the same per sender
 *   (the inbox budgets and each sender's share of them). A counter that reaches 0 is removed.
 * - `idempotency`: [from, idempotency key] -> { acceptance, requestSha256, expiresAt }, and
 *   `idempotency-expiry`: [expiresAt, from, key] -> true. (The `idem` databases of earlier versions,
 *   which held whole messages, are no longer read.)
 * - the nonce databases of replay/embedded.ts: accept claims its nonce in its own transaction.
 *
 * Every write is one transaction and resolves after it committed: fsynced first when the database was
 * opened with synchronous commits (MECHA_DURABILITY=fsync), else flushed just after (stores/durability.ts). A timer sweeps expired
 * nonces and idempotency records every minute; `close()` stops it, the caller closes the database.
 *
 * A disk that is full fails every commit, a read's (it records the delivery) and a nonce claim's too:
 * the high-water mark (`options.pressure`: the pages in use against the file and the disk's free space,
 * sampled at most once a second, stores/embedded/space-sample.ts) refuses new messages well before.
 */
export class EmbeddedTransport implements Transport {
  readonly #db: EmbeddedDatabase
  readonly #nonces: EmbeddedNonces
  readonly #inbox: Database<InboxEntry, [string, number]>
  readonly #inboxIds: Database<true, [string, string, number]>
  readonly #meta: Database<number, MetaKey>
  readonly #idem: Database<IdempotencyRecord, [string, string]>
  readonly #idemExpiry: Database<true, [number, string, string]>
  readonly #dead: Database<DeadRecord, [string, string]>
  readonly #deadExpiry: Database<true, [string, number, string]>
  readonly #budget: InboxBudget
  readonly #pressure: StoragePressure | undefined
  readonly #arrivals = new EventEmitter()
  readonly #sweeper: NodeJS.Timeout

  /**
   * @param options.inboxLimit, options.inboxMaxBytes, options.senderShare the inbox budgets
   *   (InboxBudgetOptions; defaults 10 000 messages, 64 MiB, half of each per sender).
   * @param options.replay the rules of the replay cache on the same database (its `rules`), so an
   *   accept's claim and a claim through the cache use one future-skew value.
   * @param options.pressure the store's high-water mark (TransportOptions).
   */
  constructor(db: EmbeddedDatabase, options: TransportOptions & { replay?: ReplayRules } = {}) {
    this.#budget = inboxBudget(options)
    this.#pressure = checkStoragePressure(options.pressure)
    this.#db = db
    this.#nonces = new EmbeddedNonces(db, { maxFutureSkewSeconds: options.replay?.maxFutureSkewSeconds ?? DEFAULT_MAX_FUTURE_SKEW_SECONDS })
    this.#inbox = db.root.openDB<InboxEntry, [string, number]>({ name: 'inbox' })
    this.#inboxIds = db.root.openDB<true, [string, string, number]>({ name: 'inbox-ids' })
    this.#meta = db.root.openDB<number, MetaKey>({ name: 'inbox-meta' })
    this.#idem = db.root.openDB<IdempotencyRecord, [string, string]>({ name: 'idempotency' })
    this.#idemExpiry = db.root.openDB<true, [number, string, string]>({ name: 'idempotency-expiry' })
    this.#dead = db.root.openDB<DeadRecord, [string, string]>({ name: 'dead-letters' })
    this.#deadExpiry = db.root.openDB<true, [string, number, string]>({ name: 'dead-letter-expiry' })
    // One listener per waiting long-poll: there is no leak to warn about.
    this.#arrivals.setMaxListeners(0)
    // A failed sweep is retried by the next one; a broken database shows up on requests, not here.
    this.#sweeper = setInterval(() => { this.sweep(Date.now()).catch(() => undefined) }, SWEEP_INTERVAL_MS)
    this.#sweeper.unref()
  }

  async accept(input: AcceptInput): Promise<AcceptResult> {
    checkAcceptInput(input)
    if (input.claim !== null) checkNonceClaim(input.claim)
    const refuses = storageRefuses(this.#pressure)
    if (refuses instanceof Promise ? await refuses : refuses) return { outcome: 'storage_full' }
    const { claim, message } = input
    const now = acceptTime(input)
    const bytes = storedBytes(JSON.stringify(message))
    const result = await this.#write((): AcceptResult | { outcome: 'id_taken' } => {
      if (this.#holds(message.to, message.id)) return { outcome: 'id_taken' }
      if (claim !== null) {
        const claimed = this.#nonces.claimInTransaction(claim)
        if (claimed.outcome !== 'fresh') return claimed
      }
      const idempotency = input.idempotency
      const idemKey: [string, string] | undefined = idempotency === null ? undefined : [message.from, idempotencyScope(idempotency, message.to)]
      if (idempotency !== null && idemKey !== undefined) {
        const original = this.#idem.get(idemKey)
        if (original !== undefined && original.expiresAt > now) {
          return original.requestSha256 === idempotency.requestSha256
            ? { outcome: 'duplicate', acceptance: original.acceptance }
            : { outcome: 'idempotency_key_reused' }
        }
      }
      const counters = usageKeys(message.to, message.from)
      const refusal = (): ReturnType<typeof budgetRefusal> => budgetRefusal(this.#budget, {
        messages: this.#meta.get(counters.messages) ?? 0, bytes: this.#meta.get(counters.bytes) ?? 0,
        senderMessages: this.#meta.get(counters.senderMessages) ?? 0, senderBytes: this.#meta.get(counters.senderBytes) ?? 0,
      }, bytes)
      // Expired dead letters give their bytes back before a refusal is decided (as in the Redis accept):
      // dropping them can only make room, so an accept that fits does not look.
      let refused = refusal()
      if (refused !== undefined) {
        this.#dropExpiredDeadLetters(message.to, now)
        refused = refusal()
      }
      if (refused !== undefined) return refused
      const seq = (this.#meta.get('seq') ?? 0) + 1
      void this.#meta.put('seq', seq)
      this.#count(counters, 1, bytes)
      const entry: InboxEntry = { message, visible_at: input.deliverAt ?? 0, delivery_count: 0, bytes }
      if (input.expiresAt !== undefined) entry.expires_at = input.expiresAt
      void this.#inbox.put([message.to, seq], entry)
      void this.#inboxIds.put([message.to, message.id, seq], true)
      if (idempotency !== null && idemKey !== undefined) {
        const expiresAt = now + input.idempotencyTtlSeconds * 1000
        void this.#idem.put(idemKey, { acceptance: acceptanceOf(message), requestSha256: idempotency.requestSha256, expiresAt })
        void this.#idemExpiry.put([expiresAt, ...idemKey], true)
      }
      return { outcome: 'accepted', message }
    })
    if (result.outcome === 'id_taken') throw duplicateIdFault(message)
    if (result.outcome === 'accepted') {
      this.#pressure?.stored(bytes)
      this.#arrivals.emit(message.to)
    }
    return result
  }

  async read(recipient: string, options: ReadOptions): Promise<ReadResult> {
    checkReadOptions(recipient, options)
    const policy = resolvePolicy(options.policy)
    if (options.limit === 0) return { messages: [], nextDueAt: undefined, deadLettered: [] }
    const now = options.now
    // Most polls find nothing: look without a write transaction (and its fsync) first.
    const look = this.#guard(() => this.#due(recipient, now, 1))
    if (look.due.length === 0) return { messages: [], nextDueAt: look.nextDueAt, deadLettered: [] }
    return this.#write(() => {
      this.#dropExpiredDeadLetters(recipient, now)
      const { due, nextDueAt: later, full } = this.#due(recipient, now, options.limit)
      const messages: DeliveredMessage[] = []
      const deadLettered: DeadLetter[] = []
      let nextDueAt = later
      for (const { seq, entry } of due) {
        const found: Found = { seq, entry, idKey: [recipient, entry.message.id, seq] }
        if (entry.expires_at !== undefined && entry.expires_at <= now) {
          deadLettered.push(this.#deadLetter(recipient, found, 'expired', now, policy))
        } else if (policy.maxDeliveries > 0 && entry.delivery_count >= policy.maxDeliveries) {
          deadLettered.push(this.#deadLetter(recipient, found, 'max_deliveries', now, policy))
        } else {
          const delivery_count = entry.delivery_count + 1
          const visible_at = now + options.visibilityMs + backoffAfter(policy, delivery_count)
          void this.#inbox.put([recipient, seq], { ...entry, visible_at, delivery_count, delivered_at: now })
          messages.push({ ...entry.message, delivery_count })
          const next = dueAt(visible_at, entry.expires_at)
          if (nextDueAt === undefined || next < nextDueAt) nextDueAt = next
        }
      }
      // A full batch may have left due entries unseen: more may be due now.
      return { messages, nextDueAt: full ? now : nextDueAt, deadLettered }
    })
  }

  async nack(recipient: string, ids: readonly string[], options: NackOptions): Promise<number> {
    checkLifecycleCall(recipient, ids, options)
    checkNackOptions(options)
    const policy = resolvePolicy(options.policy)
    const moved = await this.#moveDelivered(recipient, ids, (found) => {
      const wait = options.delayMs ?? backoffAfter(policy, found.entry.delivery_count)
      void this.#inbox.put([recipient, found.seq], { ...found.entry, visible_at: options.now + wait })
    })
    // It may be due before a waiting reader's next read: announced like an arrival.
    if (moved > 0) this.#arrivals.emit(recipient)
    return moved
  }

  async extend(recipient: string, ids: readonly string[], options: ExtendOptions): Promise<number> {
    checkLifecycleCall(recipient, ids, options)
    checkExtendOptions(options)
    return this.#moveDelivered(recipient, ids, (found) => {
      const bound = (found.entry.delivered_at ?? options.now) + MAX_VISIBILITY_MS
      void this.#inbox.put([recipient, found.seq], { ...found.entry, visible_at: Math.min(options.now + options.visibilityMs, bound) })
    })
  }

  async reject(recipient: string, ids: readonly string[], options: RejectOptions): Promise<DeadLetter[]> {
    checkLifecycleCall(recipient, ids, options)
    checkRejectOptions(options)
    const policy = resolvePolicy(options.policy)
    if (ids.length === 0) return []
    const rejected: DeadLetter[] = []
    await this.#moveDelivered(recipient, ids, (found) => {
      rejected.push(this.#deadLetter(recipient, found, 'rejected', options.now, policy, options.detail))
    })
    return rejected
  }

  async deadLetters(recipient: string, options: DeadLetterListOptions): Promise<DeadLetter[]> {
    checkDeadLetterListOptions(recipient, options)
    if (options.limit === 0) return []
    return this.#guard(() => {
      const found: DeadLetter[] = []
      const start: [string, string] = options.after === undefined ? [recipient, ''] : [recipient, options.after]
      for (const { key, value } of this.#dead.getRange({ start, end: [recipient, RANGE_END] })) {
        if (key[1] === options.after) continue
        // Expired but not yet removed (the next write to this inbox removes it): already gone.
        if (value.expires_at <= options.now) continue
        found.push(deadLetterOf(value))
        if (found.length >= options.limit) break
      }
      return found
    })
  }

  async redrive(recipient: string, ids: readonly string[], options: { now: number }): Promise<number> {
    checkLifecycleCall(recipient, ids, options)
    if (ids.length === 0) return 0
    return this.#write(() => {
      this.#dropExpiredDeadLetters(recipient, options.now)
      let moved = 0
      for (const id of new Set(ids)) {
        const record = this.#dead.get([recipient, id])
        if (record === undefined) continue
        this.#removeDeadLetter(recipient, id, record)
        const seq = (this.#meta.get('seq') ?? 0) + 1
        void this.#meta.put('seq', seq)
        // Its bytes were never given back: only the message count returns.
        const counters = usageKeys(recipient, record.message.from)
        this.#add(counters.messages, 1)
        this.#add(counters.senderMessages, 1)
        void this.#inbox.put([recipient, seq], { message: record.message, visible_at: 0, delivery_count: 0, bytes: record.bytes })
        void this.#inboxIds.put([recipient, id, seq], true)
        moved++
      }
      return moved
    }).then((moved) => {
      if (moved > 0) this.#arrivals.emit(recipient)
      return moved
    })
  }

  async purge(recipient: string, ids: readonly string[], options: { now: number }): Promise<number> {
    checkLifecycleCall(recipient, ids, options)
    if (ids.length === 0) return 0
    return this.#write(() => {
      let removed = 0
      for (const id of new Set(ids)) {
        const record = this.#dead.get([recipient, id])
        if (record === undefined) continue
        this.#removeDeadLetter(recipient, id, record)
        const counters = usageKeys(recipient, record.message.from)
        this.#add(counters.bytes, -record.bytes)
        this.#add(counters.senderBytes, -record.bytes)
        removed++
      }
      this.#dropExpiredDeadLetters(recipient, options.now)
      return removed
    })
  }

  async ack(recipient: string, ids: readonly string[]): Promise<number> {
    checkAckIds(recipient, ids)
    if (ids.length === 0) return 0
    return this.#write(() => {
      let removed = 0
      for (const id of ids) {
        const keys = Array.from(this.#inboxIds.getKeys({ start: [recipient, id], end: [recipient, id, RANGE_END] }))
        for (const key of keys) {
          const entry = this.#inbox.get([recipient, key[2]])
          // Never delivered: nobody can be acknowledging it yet.
          if (entry !== undefined && entry.delivery_count === 0) continue
          void this.#inboxIds.remove(key)
          if (entry === undefined) continue
          void this.#inbox.remove([recipient, key[2]])
          const counters = usageKeys(recipient, entry.message.from)
          // An entry from before the byte budgets counted only towards the inbox's message count.
          if (entry.bytes === undefined) this.#add(counters.messages, -1)
          else this.#count(counters, -1, -entry.bytes)
          removed++
        }
      }
      return removed
    })
  }

  onArrival(recipient: string, listener: () => void): () => void {
    if (typeof listener !== 'function') throw new TypeError(`expected listener to be a function, got ${typeof listener}`)
    const guarded = (): void => callListener(listener)
    this.#arrivals.on(recipient, guarded)
    return () => { this.#arrivals.off(recipient, guarded) }
  }

  /**
   * Deletes nonces and idempotency records that expired at or before `now` (unix ms). Runs every
   * minute by itself; exposed for tests and tools. Returns how many records were removed.
   */
  async sweep(now: number): Promise<number> {
    if (!Number.isFinite(now)) throw new RangeError(`expected now to be unix milliseconds, got ${now}`)
    try {
      return (await this.#nonces.sweep(now)) + (await this.#sweepIdempotency(now))
    } catch (err) {
      throw new DependencyUnavailableError('transport', err)
    }
  }

  async ping(): Promise<void> {
    this.#guard(() => this.#db.root.getStats())
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    this.#arrivals.removeAllListeners()
  }

  /** Runs `move` on each delivered, unacknowledged entry among `ids`, in one transaction; returns how many. */
  #moveDelivered(recipient: string, ids: readonly string[], move: (found: Found) => void): Promise<number> {
    if (ids.length === 0) return Promise.resolve(0)
    return this.#write(() => {
      let moved = 0
      for (const id of new Set(ids)) {
        for (const found of this.#find(recipient, id)) {
          if (found.entry.delivery_count === 0) continue
          move(found)
          moved++
        }
      }
      return moved
    })
  }

  /** The inbox entries of a message id (one, but entries of old versions may repeat an id). */
  #find(recipient: string, id: string): Found[] {
    const found: Found[] = []
    for (const idKey of this.#inboxIds.getKeys({ start: [recipient, id], end: [recipient, id, RANGE_END] })) {
      const entry = this.#inbox.get([recipient, idKey[2]])
      if (entry !== undefined) found.push({ seq: idKey[2], entry, idKey })
    }
    return found
  }

  /**
   * Moves an inbox entry to the dead letters, in the caller's transaction. It leaves the message
   * counts (it is no longer deliverable) and keeps its bytes: a dead letter counts against the byte
   * budgets until it expires or is purged.
   */
  #deadLetter(recipient: string, found: Found, reason: DeadLetterReason, now: number, policy: ResolvedPolicy, detail?: string): DeadLetter {
    const { entry } = found
    const id = entry.message.id
    void this.#inbox.remove([recipient, found.seq])
    void this.#inboxIds.remove(found.idKey)
    const counters = usageKeys(recipient, entry.message.from)
    this.#add(counters.messages, -1)
    this.#add(counters.senderMessages, -1)
    const record: DeadRecord = {
      message: entry.message, reason, deliveries: entry.delivery_count, at: now, expires_at: now + policy.deadLetterTtlMs, bytes: entry.bytes ?? 0,
      ...(detail === undefined ? {} : { detail }),
    }
    const previous = this.#dead.get([recipient, id])
    if (previous !== undefined) this.#removeDeadLetter(recipient, id, previous)
    void this.#dead.put([recipient, id], record)
    void this.#deadExpiry.put([recipient, record.expires_at, id], true)
    return deadLetterOf(record)
  }

  #removeDeadLetter(recipient: string, id: string, record: DeadRecord): void {
    void this.#dead.remove([recipient, id])
    void this.#deadExpiry.remove([recipient, record.expires_at, id])
  }

  /** Removes the recipient's dead letters that expired at or before `now`, giving their bytes back. */
  #dropExpiredDeadLetters(recipient: string, now: number): void {
    for (const [, expiresAt, id] of Array.from(this.#deadExpiry.getKeys({ start: [recipient], end: [recipient, now, RANGE_END] }))) {
      void this.#deadExpiry.remove([recipient, expiresAt, id])
      const record = this.#dead.get([recipient, id])
      if (record === undefined || record.expires_at !== expiresAt) continue
      void this.#dead.remove([recipient, id])
      const counters = usageKeys(recipient, record.message.from)
      this.#add(counters.bytes, -record.bytes)
      this.#add(counters.senderBytes, -record.bytes)
    }
  }

  /** Moves an inbox's counters and its sender's by one message of `bytes` (negative to release). */
  #count(counters: UsageKeys, messages: number, bytes: number): void {
    this.#add(counters.messages, messages)
    this.#add(counters.bytes, bytes)
    this.#add(counters.senderMessages, messages)
    this.#add(counters.senderBytes, bytes)
  }

  #add(key: MetaKey, delta: number): void {
    const value = (this.#meta.get(key) ?? 0) + delta
    void (value > 0 ? this.#meta.put(key, value) : this.#meta.remove(key))
  }

  /** The recipient's inbox holds a message with this id. */
  #holds(recipient: string, id: string): boolean {
    for (const _ of this.#inboxIds.getKeys({ start: [recipient, id], end: [recipient, id, RANGE_END], limit: 1 })) return true
    return false
  }

  /**
   * Entries of `recipient` due at `now` (visible, or expired), the earliest due first (ties: the
   * oldest), at most `limit`, returned oldest first; `full` when more were due than taken; and the
   * earliest time an entry not due yet falls due.
   */
  #due(recipient: string, now: number, limit: number): { due: { seq: number; entry: InboxEntry }[]; nextDueAt: number | undefined; full: boolean } {
    const due: { seq: number; entry: InboxEntry; at: number }[] = []
    let nextDueAt: number | undefined
    for (const { key, value } of this.#inbox.getRange({ start: [recipient], end: [recipient, RANGE_END] })) {
      const at = dueAt(value.visible_at, value.expires_at)
      if (at > now) {
        if (nextDueAt === undefined || at < nextDueAt) nextDueAt = at
        continue
      }
      due.push({ seq: key[1], entry: value, at })
    }
    due.sort((a, b) => a.at - b.at || a.seq - b.seq)
    const taken = due.slice(0, limit).sort((a, b) => a.seq - b.seq)
    return { due: taken, nextDueAt, full: due.length >= limit }
  }

  async #sweepIdempotency(now: number): Promise<number> {
    let removed = 0
    for (;;) {
      const batch = await this.#db.root.transaction(() => {
        const due = Array.from(this.#idemExpiry.getKeys({ end: [Math.floor(now) + 1], limit: SWEEP_BATCH }))
        for (const [expiresAt, from, key] of due) {
          void this.#idemExpiry.remove([expiresAt, from, key])
          // Re-used after it expired: the newer record has its own, later, expiry entry.
          if (this.#idem.get([from, key])?.expiresAt !== expiresAt) continue
          void this.#idem.remove([from, key])
          removed++
        }
        return due.length
      })
      if (batch < SWEEP_BATCH) return removed
    }
  }

  #guard<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw new DependencyUnavailableError('transport', err)
    }
  }

  async #write<T>(fn: () => T): Promise<T> {
    try {
      return await this.#db.root.transaction(fn)
    } catch (err) {
      throw new DependencyUnavailableError('transport', err)
    }
  }
}

function deadLetterOf(record: DeadRecord): DeadLetter {
  return {
    message: record.message, reason: record.reason, deliveries: record.deliveries, deadLetteredAt: record.at, expiresAt: record.expires_at,
    ...(record.detail === undefined ? {} : { detail: record.detail }),
  }
}

interface UsageKeys {
  messages: MetaKey
  bytes: MetaKey
  senderMessages: MetaKey
  senderBytes: MetaKey
}

function usageKeys(recipient: string, from: string): UsageKeys {
  return {
    messages: ['count', recipient], bytes: ['bytes', recipient],
    senderMessages: ['sender-count', recipient, from], senderBytes: ['sender-bytes', recipient, from],
  }
}
