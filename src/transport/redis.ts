import { DependencyUnavailableError } from '../errors/faults.js'
import { checkNonceClaim } from '../replay/claim.js'
import { layoutOf, pingRedis, type RedisClient } from '../stores/redis/client.js'
import { RedisKeys } from '../stores/redis/keys.js'
import type { ReplayRules } from '../replay/types.js'
import type { StoragePressure } from '../stores/high-water.js'
import { runRedis } from '../stores/redis/run.js'
import { RedisScript } from '../stores/redis/script.js'
import {
  acceptanceOf, acceptTime, callListener, checkAcceptInput, checkAckIds, checkDeadLetterListOptions, checkExtendOptions, checkLifecycleCall, checkNackOptions,
  checkReadOptions, checkRejectOptions, checkStoragePressure, duplicateIdFault, inboxBudget, resolvePolicy, storageRefuses, storedBytes, type InboxBudget,
} from './checks.js'
import { ACCEPT, acceptLimits, OUTCOME } from './redis-lua.js'
import { ACK, DEAD_LETTERS, EXTEND, NACK, PURGE, READ, REDRIVE, REJECT } from './redis-lifecycle-lua.js'
import {
  idempotencyScope, MAX_VISIBILITY_MS,
  type AcceptInput, type AcceptResult, type BudgetKind, type DeadLetter, type DeadLetterListOptions, type DeadLetterReason, type DeliveredMessage, type ExtendOptions,
  type Message, type MessageAcceptance, type NackOptions, type ReadOptions, type ReadResult, type RejectOptions, type Transport, type TransportOptions,
} from './types.js'

/**
 * The Mechagram transport on Redis Streams. Key layout, all under `prefix` (the names below are the
 * standalone layout; on a cluster each carries its mecha's hash tag, `inbox:{<mecha>}`, the nonces and
 * idempotency records of messages to a mecha are in its slot, and arrivals use sharded pub/sub:
 * stores/redis/keys.ts):
 *
 * - `inbox:<mecha>`: a stream per recipient. Field `m` holds the message JSON, `f` its sender, `n` its
 *   bytes (for the budgets), `i` its id and `x` when it expires (unix ms; absent, or '' from earlier versions, for never). An acknowledged
 *   or dead-lettered entry is XDELed, so the stream holds only unacknowledged messages and its length is
 *   what the inbox limit (default 10 000) counts. (Earlier versions read it through a consumer group;
 *   this one keeps delivery state itself, below.)
 * - `inbox-ids:<mecha>`: hash, message id -> stream entry id, removed on ack. Ids are the gateway's and
 *   unique per inbox (an accept refuses one already there). Entries written by earlier versions may
 *   hold several space-separated entry ids; ack still reads that form.
 * - `idempotency:<from>:<key>`: `{"acceptance": {...}, "request_sha256": "<hex>"}` of an accept that
 *   carried an Idempotency-Key, expiring after MECHA_IDEMPOTENCY_TTL_SECONDS (a day by default). A
 *   mecha id has no `:`, so the key cannot be confused across senders. (Earlier versions' `idem:` keys,
 *   which held whole messages, are no longer read and expire by themselves.)
 * - `inbox-due:<mecha>`: sorted set, entry id -> when it is next due (unix ms, the gateway's clock):
 *   0 or its deliverAt until first delivered, then visible again (visibility timeout plus backoff, or a
 *   nack's delay, or an extend's time), or its expiry if that comes first. Every unacknowledged entry is
 *   in it: a read takes the due ones, and its first member is the next due time (no polling).
 * - `inbox-state:<mecha>`: hash, delivered entry id -> "<delivery count> <latest delivery, unix ms>".
 * - `dead:<mecha>`, `dead-index:<mecha>`, `dead-expiry:<mecha>`: the dead letters: `r:<id>` -> record
 *   JSON (reason, deliveries, when, expiry, bytes, sender, detail) and `m:<id>` -> the message JSON as
 *   stored; by id (all scores 0, for paging); by expiry. A dead letter keeps its bytes in the usage
 *   hash until it expires (removed by the recipient's next read or listing, or by an accept it would
 *   otherwise refuse) or is purged.
 * - `inbox-usage:<mecha>`: hash, `bytes` -> bytes of unacknowledged messages and dead letters, `m:<from>` / `b:<from>` ->
 *   each sender's messages and bytes in the inbox (MECHA_INBOX_MAX_BYTES, MECHA_INBOX_SENDER_SHARE).
 *   Emptied, and so deleted, when the inbox is.
 * - `nonce:<keyId>:<nonce>` and `replay-epoch`: the replay cache's (see replay/redis.ts); a nonce
 *   expires after the claim's TTL, a little longer than the timestamp window.
 * - channel `arrivals:<mecha>`: every accept publishes to its recipient's channel, to wake long-polls
 *   and WebSockets in any process. A process subscribes only to the recipients it has listeners for,
 *   so an accept nobody waits for sends nothing to any gateway (and N gateways do not each receive
 *   every message).
 *
 * Memory is therefore bounded by (recipients x MECHA_INBOX_MAX_BYTES) plus nonces for one TTL plus
 * idempotency records for one idempotency TTL. Redis must run with `maxmemory-policy noeviction`:
 * evicting a nonce reopens a replay window and evicting a stream loses messages.
 *
 * accept (redis-lua.ts) and every move of a message's life (redis-lifecycle-lua.ts) are one Lua script
 * each, so one round trip and atomic; each touches only the recipient's keys (one slot on a cluster). Any Redis failure
 * surfaces as `DependencyUnavailableError('transport')`.
 *
 * Under `noeviction` a Redis at maxmemory refuses every write, a read's delivery bookkeeping and a
 * nonce claim included: the high-water mark (`options.pressure`, INFO memory sampled at most once a
 * second, stores/high-water.ts) refuses new messages well before, so reads, acks and claims keep room.
 *
 * The transport does not own its connections: `close()` only drops listeners and its subscription;
 * the caller quits `redis` and `subscriber`.
 */
const ACCEPT_DEADLINE_MS = 1500
/**
 * A recipient's channel stays subscribed this long after its last listener leaves: a long-poll that
 * waits again at once (the usual loop) finds it live, instead of costing a SUBSCRIBE and UNSUBSCRIBE
 * per wait.
 */
const UNSUBSCRIBE_AFTER_MS = 10_000
/** A refused SUBSCRIBE / SSUBSCRIBE is tried again this much later. */
const SUBSCRIBE_RETRY_MS = 250

export class RedisTransport implements Transport {
  readonly #redis: RedisClient
  readonly #subscriber: RedisClient | undefined
  readonly #keys: RedisKeys
  /** Cluster: sharded pub/sub (SPUBLISH, SSUBSCRIBE, 'smessage'), one channel per command. */
  readonly #sharded: boolean
  readonly #budget: InboxBudget
  readonly #replay: ReplayRules
  /** The replay cache's future skew, as ACCEPT's argument. */
  readonly #skew: string
  readonly #pressure: StoragePressure | undefined
  readonly #listeners = new Map<string, Set<() => void>>()
  /** Each recent recipient's keys, as its accepts name them (built once: the accept is the hot path). */
  readonly #recipients = new Map<string, RecipientKeys>()
  /** ACCEPT's limits argument, and the idempotency TTL it was built for (an accept input carries the TTL). */
  #limits = ''
  #limitsTtl = -1
  /** Recipients whose channel is subscribed, with the timer that will unsubscribe it once unused. */
  readonly #channels = new Map<string, NodeJS.Timeout | undefined>()
  #attached = false
  #closed = false

  /**
   * @param redis the command connection (shared with the control store is fine).
   * @param subscriber a connection in subscriber mode for arrival announcements from every process;
   *   without it, listeners hear only of messages this instance accepts.
   * @param prefix key prefix, the same for every process sharing the inboxes.
   * @param options.inboxLimit, options.inboxMaxBytes, options.senderShare the inbox budgets
   *   (InboxBudgetOptions; defaults 10 000 messages, 64 MiB, half of each per sender).
   * @param options.replay the `rules` of the RedisReplayCache on the same Redis and prefix: an accept
   *   claims its nonce under the cache's future skew, and fails closed whenever the cache does.
   * @param options.pressure the Redis's high-water mark (TransportOptions).
   */
  constructor(redis: RedisClient, subscriber: RedisClient | undefined, prefix: string, options: TransportOptions & { replay: ReplayRules }) {
    this.#keys = new RedisKeys(prefix, layoutOf(redis))
    this.#sharded = this.#keys.layout === 'cluster'
    if (subscriber !== undefined && layoutOf(subscriber) !== this.#keys.layout) throw new TypeError('expected the subscriber to connect to the same kind of Redis as the command connection')
    this.#budget = inboxBudget(options)
    if (typeof options.replay?.assertSafe !== 'function') throw new TypeError('expected options.replay to be a replay cache\'s rules')
    this.#replay = options.replay
    this.#skew = String(options.replay.maxFutureSkewSeconds)
    this.#pressure = checkStoragePressure(options.pressure)
    this.#redis = redis
    this.#subscriber = subscriber
  }

  /**
   * An accept must run within this long of the request's start, else it writes nothing (see ACCEPT in
   * redis-lua.ts). Below the client's 2 s command timeout, with room for network latency and clock skew.
   */
  async accept(input: AcceptInput): Promise<AcceptResult> {
    checkAcceptInput(input)
    if (input.claim !== null) checkNonceClaim(input.claim)
    this.#replay.assertSafe()
    const refuses = storageRefuses(this.#pressure)
    if (refuses instanceof Promise ? await refuses : refuses) return { outcome: 'storage_full' }
    const { claim, message, idempotency } = input
    const now = acceptTime(input)
    const record = idempotency === null ? '' : JSON.stringify({ acceptance: acceptanceOf(message), request_sha256: idempotency.requestSha256 })
    const json = JSON.stringify(message)
    const to = this.#recipient(message.to)
    const keys = this.#keys
    const [outcome, detail] = await this.#run(() =>
      SCRIPTS.accept.run(
        this.#redis,
        to.epoch, claim === null ? to.epoch : keys.nonce(message.to, claim.keyId, claim.nonce),
        // Without an Idempotency-Key the record key is never read or written: the epoch stands in (a key of the recipient's slot).
        idempotency === null ? to.epoch : keys.idempotency(message.to, message.from, idempotencyScope(idempotency, message.to)), ...to.inbox,
        // No claim: an empty timestamp tells the script to record no nonce (the epoch and nonce keys are then never touched).
        String(now), claim === null ? '' : String(claim.timestamp), claim === null ? '' : String(claim.ttlSeconds), claim === null ? '' : this.#skew,
        idempotency?.requestSha256 ?? '', this.#acceptLimits(input.idempotencyTtlSeconds),
        json, message.id, to.arrivals, message.to, record, message.from, optionalMs(input.deliverAt), optionalMs(input.expiresAt),
      ),
    )
    switch (outcome) {
      case OUTCOME.accepted:
        this.#pressure?.stored(storedBytes(json))
        if (this.#subscriber === undefined) this.#dispatch(message.to)
        return { outcome: 'accepted', message }
      case OUTCOME.duplicate:
        return { outcome: 'duplicate', acceptance: (JSON.parse(String(detail)) as { acceptance: MessageAcceptance }).acceptance }
      case OUTCOME.idempotencyKeyReused:
        return { outcome: 'idempotency_key_reused' }
      case OUTCOME.idTaken:
        throw duplicateIdFault(message)
      case OUTCOME.replayed:
        return { outcome: 'replayed' }
      case OUTCOME.beforeEpoch:
        return { outcome: 'before_epoch', epoch: Number(detail) }
      case OUTCOME.inboxFull:
        return { outcome: 'inbox_full', by: budgetKind(detail) }
      case OUTCOME.senderShareExceeded:
        return { outcome: 'sender_share_exceeded', by: budgetKind(detail) }
      case OUTCOME.late:
        throw new DependencyUnavailableError('transport', new Error('the accept ran after its deadline: nothing was stored'))
      default:
        throw new DependencyUnavailableError('transport', new Error(`unexpected accept reply ${JSON.stringify(outcome)}`))
    }
  }

  async read(recipient: string, options: ReadOptions): Promise<ReadResult> {
    checkReadOptions(recipient, options)
    const policy = resolvePolicy(options.policy)
    if (options.limit === 0) return { messages: [], nextDueAt: undefined, deadLettered: [] }
    const [due, delivered, dead] = await this.#run(() =>
      SCRIPTS.read.run(
        this.#redis, ...this.#recipient(recipient).inbox, String(options.now), String(options.visibilityMs), String(options.limit), String(policy.maxDeliveries),
        String(policy.deadLetterTtlMs), policy.backoffMs.join(','),
      ),
    )
    const messages: DeliveredMessage[] = []
    for (let i = 0; i + 1 < delivered.length; i += 2) {
      messages.push({ ...(JSON.parse(String(delivered[i])) as Message), delivery_count: Number(delivered[i + 1]) })
    }
    const nextDueAt = Number(due)
    return { messages, nextDueAt: nextDueAt >= 0 ? nextDueAt : undefined, deadLettered: dead.map(parseDeadLetter) }
  }

  async ack(recipient: string, ids: readonly string[]): Promise<number> {
    checkAckIds(recipient, ids)
    if (ids.length === 0) return 0
    return this.#run(() => SCRIPTS.ack.run(this.#redis, ...this.#recipient(recipient).inbox, ...ids))
  }

  async nack(recipient: string, ids: readonly string[], options: NackOptions): Promise<number> {
    checkLifecycleCall(recipient, ids, options)
    checkNackOptions(options)
    if (ids.length === 0) return 0
    const policy = resolvePolicy(options.policy)
    const moved = await this.#run(() => SCRIPTS.nack.run(
      this.#redis, ...this.#recipient(recipient).inbox, String(options.now), optionalMs(options.delayMs), String(policy.maxDeliveries), policy.backoffMs.join(','),
      this.#keys.arrivals(recipient), this.#sharded ? 'SPUBLISH' : 'PUBLISH', ...ids,
    ))
    if (moved > 0 && this.#subscriber === undefined) this.#dispatch(recipient)
    return moved
  }

  async extend(recipient: string, ids: readonly string[], options: ExtendOptions): Promise<number> {
    checkLifecycleCall(recipient, ids, options)
    checkExtendOptions(options)
    if (ids.length === 0) return 0
    return this.#run(() => SCRIPTS.extend.run(
      this.#redis, ...this.#recipient(recipient).inbox, String(options.now), String(options.visibilityMs), String(MAX_VISIBILITY_MS), ...ids,
    ))
  }

  async reject(recipient: string, ids: readonly string[], options: RejectOptions): Promise<DeadLetter[]> {
    checkLifecycleCall(recipient, ids, options)
    checkRejectOptions(options)
    if (ids.length === 0) return []
    const policy = resolvePolicy(options.policy)
    const dead = await this.#run(() => SCRIPTS.reject.run(
      this.#redis, ...this.#recipient(recipient).inbox, String(options.now), String(policy.deadLetterTtlMs), options.detail ?? '', ...ids,
    ))
    return dead.map(parseDeadLetter)
  }

  async deadLetters(recipient: string, options: DeadLetterListOptions): Promise<DeadLetter[]> {
    checkDeadLetterListOptions(recipient, options)
    if (options.limit === 0) return []
    const dead = await this.#run(() => SCRIPTS.deadLetters.run(
      this.#redis, ...this.#recipient(recipient).inbox, String(options.now), String(options.limit), options.after ?? '',
    ))
    return dead.map(parseDeadLetter)
  }

  async redrive(recipient: string, ids: readonly string[], options: { now: number }): Promise<number> {
    checkLifecycleCall(recipient, ids, options)
    if (ids.length === 0) return 0
    const moved = await this.#run(() => SCRIPTS.redrive.run(
      this.#redis, ...this.#recipient(recipient).inbox, String(options.now), this.#keys.arrivals(recipient), this.#sharded ? 'SPUBLISH' : 'PUBLISH', ...ids,
    ))
    if (moved > 0 && this.#subscriber === undefined) this.#dispatch(recipient)
    return moved
  }

  async purge(recipient: string, ids: readonly string[], options: { now: number }): Promise<number> {
    checkLifecycleCall(recipient, ids, options)
    if (ids.length === 0) return 0
    return this.#run(() => SCRIPTS.purge.run(this.#redis, ...this.#recipient(recipient).inbox, String(options.now), ...ids))
  }

  onArrival(recipient: string, listener: () => void): () => void {
    if (typeof listener !== 'function') throw new TypeError(`expected listener to be a function, got ${typeof listener}`)
    if (this.#closed) return () => undefined
    let set = this.#listeners.get(recipient)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(recipient, set)
    }
    set.add(listener)
    this.#listen(recipient)
    return () => {
      const current = this.#listeners.get(recipient)
      if (current === undefined || !current.delete(listener) || current.size > 0) return
      this.#listeners.delete(recipient)
      this.#release(recipient)
    }
  }

  async ping(): Promise<void> {
    await this.#run(() => pingRedis(this.#redis))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#listeners.clear()
    const subscriber = this.#subscriber
    const recipients = [...this.#channels.keys()]
    for (const timer of this.#channels.values()) clearTimeout(timer)
    this.#channels.clear()
    if (subscriber === undefined || !this.#attached) return
    subscriber.off(this.#sharded ? 'smessage' : 'message', this.#onMessage)
    subscriber.off('ready', this.#onReady)
    subscriber.off('-node', this.#onShardMoved)
    subscriber.off('+node', this.#onShardMoved)
    subscriber.off('subscribersReady', this.#onReady)
    // Best effort: while Redis is down there is no subscription to end, and ioredis will not restore
    // a channel it was told to leave.
    if (subscriber.status === 'ready' && recipients.length > 0) await this.#unsubscribe(subscriber, recipients).catch(() => undefined)
  }

  /**
   * Subscribes to the recipient's channel on its first listener; ioredis resubscribes after a reconnect
   * by itself. Once a subscription is live the listeners are called once: an accept published before
   * it (between a reader's read and its SUBSCRIBE, or while disconnected) reached nobody, and readers
   * no longer re-read every second to find it.
   */
  #listen(recipient: string): void {
    const subscriber = this.#subscriber
    if (subscriber === undefined || this.#closed) return
    if (!this.#attached) {
      this.#attached = true
      subscriber.on(this.#sharded ? 'smessage' : 'message', this.#onMessage)
      // A SUBSCRIBE refused while disconnected (the offline queue is off) is retried once ready.
      subscriber.on('ready', this.#onReady)
      if (this.#sharded) {
        // A shard's subscriber moves when its node leaves or joins (ioredis resubscribes by itself):
        // an arrival announced in between reached nobody, so every listener reads again.
        subscriber.on('-node', this.#onShardMoved)
        subscriber.on('+node', this.#onShardMoved)
        subscriber.on('subscribersReady', this.#onReady)
      }
    }
    if (this.#channels.has(recipient)) {
      clearTimeout(this.#channels.get(recipient))
      this.#channels.set(recipient, undefined)
      return
    }
    this.#channels.set(recipient, undefined)
    if (subscriber.status === 'ready') this.#subscribeThenWake(subscriber, [recipient])
  }

  /**
   * Subscribes, then calls the recipients' listeners (an arrival before the subscription was live
   * reached nobody). A refused subscription is tried again while the recipient is still listened
   * for: a cluster's sharded subscribers start after the client is ready, and move on failover.
   */
  #subscribeThenWake(subscriber: RedisClient, recipients: string[]): void {
    this.#subscribe(subscriber, recipients).then(
      () => { for (const recipient of recipients) this.#dispatch(recipient) },
      () => {
        const timer = setTimeout(() => {
          const still = recipients.filter((recipient) => this.#listeners.has(recipient) && this.#channels.has(recipient))
          if (!this.#closed && still.length > 0 && subscriber.status === 'ready') this.#subscribeThenWake(subscriber, still)
        }, SUBSCRIBE_RETRY_MS)
        timer.unref()
      },
    )
  }

  /** The recipient's last listener left: unsubscribe later, unless a listener comes back first. */
  #release(recipient: string): void {
    const subscriber = this.#subscriber
    if (subscriber === undefined || !this.#channels.has(recipient)) return
    const timer = setTimeout(() => {
      this.#channels.delete(recipient)
      if (subscriber.status === 'ready') this.#unsubscribe(subscriber, [recipient]).catch(() => undefined)
    }, UNSUBSCRIBE_AFTER_MS)
    timer.unref()
    this.#channels.set(recipient, timer)
  }

  readonly #onReady = (): void => {
    const subscriber = this.#subscriber
    if (subscriber === undefined || subscriber.status !== 'ready' || this.#channels.size === 0) return
    this.#subscribeThenWake(subscriber, [...this.#channels.keys()])
  }

  readonly #onShardMoved = (): void => {
    for (const recipient of this.#listeners.keys()) this.#dispatch(recipient)
  }

  readonly #onMessage = (channel: string): void => {
    const recipient = this.#keys.arrivalsRecipient(channel)
    if (recipient !== undefined) this.#dispatch(recipient)
  }

  /** SUBSCRIBE all at once, or (sharded) SSUBSCRIBE each: one command's channels must share a slot. */
  async #subscribe(subscriber: RedisClient, recipients: string[]): Promise<void> {
    const channels = recipients.map((recipient) => this.#keys.arrivals(recipient))
    if (!this.#sharded) {
      await subscriber.subscribe(...channels)
      return
    }
    await Promise.all(channels.map((channel) => subscriber.ssubscribe(channel)))
  }

  async #unsubscribe(subscriber: RedisClient, recipients: string[]): Promise<void> {
    const channels = recipients.map((recipient) => this.#keys.arrivals(recipient))
    if (!this.#sharded) {
      await subscriber.unsubscribe(...channels)
      return
    }
    await Promise.all(channels.map((channel) => subscriber.sunsubscribe(channel)))
  }

  #dispatch(recipient: string): void {
    const set = this.#listeners.get(recipient)
    if (set === undefined) return
    // Listeners usually unsubscribe themselves when called: iterate over a copy.
    for (const listener of [...set]) callListener(listener)
  }

  /** A recipient's keys, from the cache; a full cache starts again (recipients are few and often the same). */
  #recipient(mecha: string): RecipientKeys {
    let keys = this.#recipients.get(mecha)
    if (keys === undefined) {
      if (this.#recipients.size >= RECIPIENT_CACHE_SIZE) this.#recipients.clear()
      keys = { epoch: this.#keys.epochFor(mecha), inbox: this.#keys.inboxKeys(mecha), arrivals: this.#keys.arrivals(mecha) }
      this.#recipients.set(mecha, keys)
    }
    return keys
  }

  #acceptLimits(idempotencyTtlSeconds: number): string {
    if (idempotencyTtlSeconds !== this.#limitsTtl) {
      const budget = this.#budget
      this.#limits = acceptLimits({
        idempotencyTtlSeconds, inboxLimit: budget.messages, inboxMaxBytes: budget.bytes, senderMaxMessages: budget.senderMessages,
        senderMaxBytes: budget.senderBytes, deadlineMs: ACCEPT_DEADLINE_MS, publish: this.#sharded ? 'SPUBLISH' : 'PUBLISH',
      })
      this.#limitsTtl = idempotencyTtlSeconds
    }
    return this.#limits
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    return runRedis('transport', fn)
  }

}

function budgetKind(detail: string | number | undefined): BudgetKind {
  if (detail === 'messages' || detail === 'bytes') return detail
  throw new DependencyUnavailableError('transport', new Error(`unexpected budget in the accept reply: ${JSON.stringify(detail)}`))
}

/** Recipients whose keys the transport keeps built (a few hundred bytes each). */
const RECIPIENT_CACHE_SIZE = 4096

type InboxKeys = [string, string, string, string, string, string, string, string]

interface RecipientKeys {
  /** The replay epoch of the recipient's slot (one key on a standalone Redis). */
  epoch: string
  /** RedisKeys.inboxKeys: what every script of the recipient's inbox takes. */
  inbox: InboxKeys
  arrivals: string
}

type Publish = 'PUBLISH' | 'SPUBLISH'

/** The scripts of redis-lua.ts and redis-lifecycle-lua.ts; the lifecycle ones over the inbox keys. */
const SCRIPTS = {
  accept: new RedisScript<[
    epochKey: string, nonceKey: string, idemKey: string, ...inbox: InboxKeys,
    nowMs: string, timestamp: string, ttlSeconds: string, skew: string, requestSha256: string, limits: string,
    messageJson: string, messageId: string, arrivalsChannel: string, recipient: string, idempotencyRecordJson: string, sender: string,
    deliverAt: string, expiresAt: string,
  ], [string, (string | number)?]>(ACCEPT, 11),
  read: new RedisScript<[...InboxKeys, now: string, visibilityMs: string, limit: string, maxDeliveries: string, deadLetterTtlMs: string, backoffMs: string],
    [string, (string | number)[], string[]]>(READ, 8),
  ack: new RedisScript<[...InboxKeys, ...ids: string[]], number>(ACK, 8),
  nack: new RedisScript<[...InboxKeys, now: string, delayMs: string, maxDeliveries: string, backoffMs: string, channel: string, publish: Publish, ...ids: string[]], number>(NACK, 8),
  extend: new RedisScript<[...InboxKeys, now: string, visibilityMs: string, boundMs: string, ...ids: string[]], number>(EXTEND, 8),
  reject: new RedisScript<[...InboxKeys, now: string, deadLetterTtlMs: string, detail: string, ...ids: string[]], string[]>(REJECT, 8),
  deadLetters: new RedisScript<[...InboxKeys, now: string, limit: string, after: string], string[]>(DEAD_LETTERS, 8),
  redrive: new RedisScript<[...InboxKeys, now: string, channel: string, publish: Publish, ...ids: string[]], number>(REDRIVE, 8),
  purge: new RedisScript<[...InboxKeys, now: string, ...ids: string[]], number>(PURGE, 8),
}

/** A dead letter as the lifecycle scripts return it: `{"record": {...}, "message": <as stored>}`. */
function parseDeadLetter(json: string): DeadLetter {
  const { record, message } = JSON.parse(json) as {
    record: { reason: DeadLetterReason; deliveries: number; at: number; expires_at: number; detail?: string }
    message: Message
  }
  return {
    message, reason: record.reason, deliveries: record.deliveries, deadLetteredAt: record.at, expiresAt: record.expires_at,
    ...(record.detail === undefined ? {} : { detail: record.detail }),
  }
}

/** An optional time (or delay) in ms as a script argument: '' when absent. */
function optionalMs(value: number | undefined): string {
  return value === undefined ? '' : String(value)
}
