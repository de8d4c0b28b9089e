import { CLUSTER_SLOTS, keySlot } from './slot.js'

/**
 * Every Redis key and channel name the service uses, in one place, for the two layouts.
 *
 * - `standalone` (a `redis://` URL): the names earlier versions wrote, unchanged, so an upgrade keeps
 *   its inboxes and nonces.
 * - `cluster` (`redis+cluster://`): every name carries a hash tag so that what one script touches is in
 *   one slot. The data plane is sharded by mecha: a recipient's stream, id map, schedule, delivery state, usage hash,
 *   dead letters (records, index, expiry),
 *   the idempotency records of messages to it, the nonces of requests addressed to it and its arrivals
 *   channel share the tag `{<mecha>}`; the nonces of the other runtime routes (whoami, inbox, ack,
 *   connect) use the calling mecha's tag. The replay epoch is one key per slot, tagged with a string
 *   that hashes to that slot (`slotTag`), so a claim reads the epoch of its own slot. The control
 *   records share one tag, `{control}`, so every control script keeps working unchanged (they live in
 *   one slot; a control store big enough to need more goes on its own Redis, MECHA_CONTROL_REDIS_URL).
 *
 * Mecha ids are `[a-z0-9._-]` (schemas/common.ts) and key ids base32: neither can contain a brace,
 * so a tag cannot be spoofed by an id.
 */
export type RedisLayout = 'standalone' | 'cluster'

/** Redis Cluster's slot count. */
export const SLOTS = CLUSTER_SLOTS

export class RedisKeys {
  readonly layout: RedisLayout
  readonly prefix: string

  constructor(prefix: string, layout: RedisLayout) {
    if (typeof prefix !== 'string' || prefix === '') throw new TypeError(`expected a non-empty key prefix, got ${JSON.stringify(prefix)}`)
    if (layout === 'cluster' && /[{}]/.test(prefix)) throw new TypeError(`a Redis Cluster key prefix must not contain braces (they are the hash tags), got ${JSON.stringify(prefix)}`)
    this.layout = layout
    this.prefix = prefix
  }

  /** `{<mecha>}` on a cluster: the hash tag of everything addressed to (or called by) one mecha. */
  #m(mecha: string): string {
    return this.layout === 'cluster' ? `{${mecha}}` : mecha
  }

  inbox(mecha: string): string {
    return `${this.prefix}inbox:${this.#m(mecha)}`
  }

  inboxIds(mecha: string): string {
    return `${this.prefix}inbox-ids:${this.#m(mecha)}`
  }

  inboxDue(mecha: string): string {
    return `${this.prefix}inbox-due:${this.#m(mecha)}`
  }

  inboxUsage(mecha: string): string {
    return `${this.prefix}inbox-usage:${this.#m(mecha)}`
  }

  /** Delivery count and latest delivery of each delivered entry (transport/redis-lifecycle-lua.ts). */
  inboxState(mecha: string): string {
    return `${this.prefix}inbox-state:${this.#m(mecha)}`
  }

  /** The mecha's dead letters: their records and messages. */
  deadLetters(mecha: string): string {
    return `${this.prefix}dead:${this.#m(mecha)}`
  }

  /** The mecha's dead letters by message id, for paging. */
  deadLetterIndex(mecha: string): string {
    return `${this.prefix}dead-index:${this.#m(mecha)}`
  }

  /** The mecha's dead letters by when they expire. */
  deadLetterExpiry(mecha: string): string {
    return `${this.prefix}dead-expiry:${this.#m(mecha)}`
  }

  /** Every key of one mecha's inbox and dead letters, in the order the lifecycle scripts take them. */
  inboxKeys(mecha: string): [string, string, string, string, string, string, string, string] {
    return [
      this.inbox(mecha), this.inboxIds(mecha), this.inboxDue(mecha), this.inboxState(mecha), this.inboxUsage(mecha),
      this.deadLetters(mecha), this.deadLetterIndex(mecha), this.deadLetterExpiry(mecha),
    ]
  }

  arrivals(mecha: string): string {
    return `${this.prefix}arrivals:${this.#m(mecha)}`
  }

  /** The prefix every arrivals channel starts with, and what follows it for `mecha`. */
  arrivalsRecipient(channel: string): string | undefined {
    const head = `${this.prefix}arrivals:`
    if (!channel.startsWith(head)) return undefined
    const rest = channel.slice(head.length)
    if (this.layout === 'standalone') return rest
    return rest.startsWith('{') && rest.endsWith('}') ? rest.slice(1, -1) : undefined
  }

  /**
   * An accept's idempotency record. Standalone: per sender (`idempotency:<from>:<key>`). Cluster: per
   * sender and recipient, in the recipient's slot (`idempotency:{<to>}:<from>:<key>`): the record is
   * written by the accept script, which runs in the recipient's slot.
   */
  idempotency(to: string, from: string, key: string): string {
    return this.layout === 'cluster' ? `${this.prefix}idempotency:{${to}}:${from}:${key}` : `${this.prefix}idempotency:${from}:${key}`
  }

  /**
   * A remembered nonce. Standalone: `nonce:<keyId>:<nonce>`, one per key. Cluster:
   * `nonce:{<mecha>}:<keyId>:<nonce>`, one per key and target mecha (the recipient of a message, the
   * caller for the other routes).
   */
  nonce(mecha: string, keyId: string, nonce: string): string {
    return this.layout === 'cluster' ? `${this.prefix}nonce:{${mecha}}:${keyId}:${nonce}` : `${this.prefix}nonce:${keyId}:${nonce}`
  }

  /** The replay epoch a claim for `mecha` is checked against: the global one, or its slot's. */
  epochFor(mecha: string): string {
    return this.layout === 'cluster' ? this.slotEpoch(keySlot(this.#m(mecha))) : `${this.prefix}replay-epoch`
  }

  /** The run id recorded beside `epochFor(mecha)`. */
  runIdFor(mecha: string): string {
    return this.layout === 'cluster' ? this.slotRunId(keySlot(this.#m(mecha))) : `${this.prefix}replay-run-id`
  }

  /** Cluster: the epoch key of one slot. */
  slotEpoch(slot: number): string {
    return `${this.prefix}replay-epoch:{${slotTag(slot)}}`
  }

  /** Cluster: the run id recorded beside one slot's epoch. */
  slotRunId(slot: number): string {
    return `${this.prefix}replay-run-id:{${slotTag(slot)}}`
  }

  /** A rate-limit or throttle bucket: one key, so any slot (`ratelimit:<bucket>`). */
  rateLimit(bucket: string): string {
    return `${this.prefix}ratelimit:${bucket}`
  }

  /**
   * A session's record (sessions/redis.ts). Cluster: under its own tag, `session:{<id>}`, so any gateway
   * finds it from the id alone and sessions spread over the slots (specs/sessions.md).
   */
  session(id: string): string {
    return this.layout === 'cluster' ? `${this.prefix}session:{${id}}` : `${this.prefix}session:${id}`
  }

  /** A key's open sessions (sorted set, id -> expires ms), in the initiator's slot: max_open's count. */
  sessionsOpen(initiator: string, keyId: string): string {
    return `${this.prefix}sessions-open:${this.#m(initiator)}:${keyId}`
  }

  /** A mecha's sessions as a participant (sorted set, id -> created ms), in its slot: the listing. */
  sessionsOf(mecha: string): string {
    return `${this.prefix}sessions:${this.#m(mecha)}`
  }

  /** Every open session (sorted set, id -> expires ms), the sweeper's read: one slot on a cluster. */
  sessionsDue(): string {
    return this.layout === 'cluster' ? `${this.prefix}{sessions-due}` : `${this.prefix}sessions-due`
  }

  /**
   * When each record goes (sorted set, `<id> <participant>...` -> retained-until ms), beside the due
   * set: the cleanup that removes a record with its listing entries.
   */
  sessionsRetired(): string {
    return this.layout === 'cluster' ? `${this.prefix}sessions-retired:{sessions-due}` : `${this.prefix}sessions-retired`
  }

  /** The prefix the control store's keys go under: one slot on a cluster. */
  controlPrefix(): string {
    return this.layout === 'cluster' ? `${this.prefix}{control}:` : this.prefix
  }
}

let tags: string[] | undefined

/**
 * A short string whose slot is `slot` (the smallest base-36 counter that hashes there): a hash tag for
 * per-slot keys. Computed once for all slots, about 170 000 CRC16s (a few tens of ms).
 */
export function slotTag(slot: number): string {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new RangeError(`expected a slot in [0, ${SLOTS}), got ${slot}`)
  if (tags === undefined) {
    const found: (string | undefined)[] = new Array<string | undefined>(SLOTS)
    let missing = SLOTS
    for (let i = 0; missing > 0; i++) {
      const tag = i.toString(36)
      const s = keySlot(tag)
      if (found[s] === undefined) {
        found[s] = tag
        missing--
      }
    }
    tags = found as string[]
  }
  return tags[slot] as string
}

export { keySlot }
