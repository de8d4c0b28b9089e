import { DependencyUnavailableError } from '../errors/faults.js'
import { layoutOf, pingRedis, type RedisClient } from '../stores/redis/client.js'
import { RedisKeys } from '../stores/redis/keys.js'
import { runRedis } from '../stores/redis/run.js'
import { RedisScript } from '../stores/redis/script.js'
import { CLOSE_RECORD, COUNT_OPEN, INDEX_ADD, SESSION_OUTCOME, WRITE_RECORD } from './redis-lua.js'
import {
  checkChange, checkLimit, checkListOptions, checkNow, checkSessionId, checkStart, closeAllowed, closedRecord, retainedUntil, sessionIdTime,
  type SessionChange, type SessionCloseResult, type SessionListOptions, type SessionRecord, type SessionStartOptions, type SessionStartResult,
  type SessionStore,
} from './types.js'

/**
 * A write must run within this long of the call, else it writes nothing (redis-lua.ts): below the
 * client's 2 s command timeout, with room for latency and clock skew, as the transport's accept.
 */
const WRITE_DEADLINE_MS = 1500
/** Retired records removed per due() call; the rest go on the next (the sweeper calls every second). */
const PURGE_BATCH = 100

type Reply = [string, ...(string | number)[]]

const SCRIPTS = {
  countOpen: new RedisScript<[openSet: string, now: string, maxOpen: string, id: string, expires: string, deadline: string], Reply>(COUNT_OPEN, 1),
  write: new RedisScript<[record: string, json: string, retainedUntil: string, deadline: string], Reply>(WRITE_RECORD, 1),
  index: new RedisScript<[set: string, score: string, member: string, expiresNoSooner: string, deadline: string], Reply>(INDEX_ADD, 1),
  close: new RedisScript<[record: string, expected: string, closed: string, retainedUntil: string, deadline: string], Reply>(CLOSE_RECORD, 1),
}

/**
 * Sessions on Redis, standalone or Cluster, with one code path (key names: stores/redis/keys.ts):
 *
 * - `session:{<id>}`: the record, JSON, expiring at its retention end (24 h after closed_at, or after
 *   expires_at while open). Its own tag: any gateway finds it from the id, and sessions spread.
 * - `sessions-open:{<initiator>}:<key id>`: sorted set id -> expires ms. A start's COUNT_OPEN prunes,
 *   counts and adds in one script in the initiator's slot: max_open is atomic across gateways. The
 *   record and the indexes are written after it (other slots, so other commands). If one of those
 *   writes fails, the start answers 503 and its member keeps counting until its expires_at: the wrong
 *   side for the caller, but bounded and self-healing. The same holds when a close's clean-up fails.
 * - `sessions:{<mecha>}`: sorted set id -> the id's time (the created ms of an id made at created_at,
 *   as the gateway makes them), one per participant: the listing. Ordered by (score, id), which is id
 *   order exactly, so the `after` cursor needs no lookup.
 * - `{sessions-due}`: sorted set id -> expires ms of every open session, removed on close.
 * - `sessions-retired:{sessions-due}`: sorted set `<id> <participants...>` -> retained-until ms.
 *   due() removes what is past it: the listing entries (the participants are in the member, because
 *   the record may already have expired by its TTL), the due entry and the record. Index entries
 *   whose record is gone are also dropped when a listing meets them, so the TTLs alone stay correct
 *   if no sweeper runs.
 *
 * Every failure rejects with DependencyUnavailableError('store'). The store does not own the connection.
 */
export interface RedisSessionStoreOptions {
  /** The clock the write deadlines are taken from (unix ms). Default Date.now; tests move it back. */
  now?: () => number
}

export class RedisSessionStore implements SessionStore {
  readonly #redis: RedisClient
  readonly #keys: RedisKeys
  readonly #now: () => number

  /**
   * @param redis the data-plane command connection (shared with the transport); its layout decides the key names.
   * @param prefix key prefix, the same for every process sharing the sessions.
   */
  constructor(redis: RedisClient, prefix: string, options: RedisSessionStoreOptions = {}) {
    this.#keys = new RedisKeys(prefix, layoutOf(redis))
    if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError(`expected options.now to be a function, got ${typeof options.now}`)
    this.#now = options.now ?? Date.now
    this.#redis = redis
  }

  async start(record: SessionRecord, options: SessionStartOptions): Promise<SessionStartResult> {
    checkStart(record, options)
    const keys = this.#keys
    const expires = String(Date.parse(record.expires_at))
    const deadline = String(this.#now() + WRITE_DEADLINE_MS)
    const counted = await this.#run(() => SCRIPTS.countOpen.run(
      this.#redis,
      keys.sessionsOpen(record.initiator, record.initiator_key), String(options.now), options.maxOpen === null ? '' : String(options.maxOpen),
      record.id, expires, deadline,
    ))
    if (counted[0] === SESSION_OUTCOME.tooManyOpen) return { outcome: 'too_many_open', open: Number(counted[1]), earliestExpiresAt: Number(counted[2]) }
    expectOutcome(counted, SESSION_OUTCOME.started)
    const until = String(retainedUntil(record))
    const written = await this.#run(() => Promise.all([
      SCRIPTS.write.run(this.#redis, keys.session(record.id), JSON.stringify(record), until, deadline),
      SCRIPTS.index.run(this.#redis, keys.sessionsDue(), expires, record.id, until, deadline),
      SCRIPTS.index.run(this.#redis, keys.sessionsRetired(), until, retiredMember(record), until, deadline),
      ...record.participants.map((mecha) =>
        SCRIPTS.index.run(this.#redis, keys.sessionsOf(mecha), String(sessionIdTime(record.id)), record.id, until, deadline)),
    ]))
    if (written[0]?.[0] === SESSION_OUTCOME.taken) throw new Error(`session id ${record.id} is already stored (ids must be new)`)
    for (const reply of written) expectOutcome(reply, SESSION_OUTCOME.written)
    return { outcome: 'started' }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    checkSessionId(id)
    const json = await this.#run(() => this.#redis.get(this.#keys.session(id)))
    return json === null ? undefined : parseRecord(json)
  }

  async listFor(mecha: string, options: SessionListOptions): Promise<SessionRecord[]> {
    checkListOptions(mecha, options)
    const index = this.#keys.sessionsOf(mecha)
    const records: SessionRecord[] = []
    let after = options.after
    for (;;) {
      const want = options.limit - records.length
      const ids = await this.#run(() => this.#pageOf(index, after, want))
      const found = await this.#records(ids)
      const gone = ids.filter((_, i) => found[i] === undefined)
      if (gone.length > 0) await this.#run(() => this.#redis.zrem(index, ...gone))
      for (const record of found) if (record !== undefined) records.push(record)
      if (ids.length < want || records.length >= options.limit) return records
      after = ids.at(-1)
    }
  }

  async close(id: string, change: SessionChange): Promise<SessionCloseResult> {
    checkSessionId(id)
    checkChange(change)
    const key = this.#keys.session(id)
    const deadline = String(this.#now() + WRITE_DEADLINE_MS)
    let json = await this.#run(() => this.#redis.get(key))
    // A record changes once (open -> closed): a lost compare-and-set finds it closed the second time.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (json === null) return { outcome: 'missing' }
      const record = parseRecord(json)
      if (!closeAllowed(record, change.state, change.now)) {
        // A close whose clean-up failed is completed by the next attempt (idempotent).
        if (record.state !== 'open') await this.#closedCleanUp(record)
        return { outcome: 'not_open', record }
      }
      const closed = closedRecord(record, change)
      const reply = await this.#run(() => SCRIPTS.close.run(this.#redis, key, json as string, JSON.stringify(closed), String(retainedUntil(closed)), deadline))
      if (reply[0] === SESSION_OUTCOME.missing) return { outcome: 'missing' }
      if (reply[0] === SESSION_OUTCOME.changed) {
        json = String(reply[1])
        continue
      }
      expectOutcome(reply, SESSION_OUTCOME.closed)
      await this.#closedCleanUp(closed)
      return { outcome: 'closed', record: closed }
    }
    throw new DependencyUnavailableError('store', new Error(`session ${id} kept changing under its close`))
  }

  async due(now: number, limit: number): Promise<SessionRecord[]> {
    checkNow(now)
    checkLimit(limit)
    await this.#purge(now)
    const dueSet = this.#keys.sessionsDue()
    const records: SessionRecord[] = []
    for (;;) {
      const want = limit - records.length
      const ids = await this.#run(() => this.#redis.zrange(dueSet, '-inf', now, 'BYSCORE', 'LIMIT', 0, want))
      const found = await this.#records(ids)
      // Closed (its clean-up failed) or gone by its TTL: not due, and dropped from the set.
      const stale = ids.filter((_, i) => found[i]?.state !== 'open')
      if (stale.length > 0) await this.#run(() => this.#redis.zrem(dueSet, ...stale))
      for (const record of found) if (record?.state === 'open') records.push(record)
      if (ids.length < want || stale.length === 0) return records
    }
  }

  async ping(): Promise<void> {
    await this.#run(() => pingRedis(this.#redis))
  }

  /** Up to `limit` ids of the index older than `after` (all when undefined), newest first. */
  async #pageOf(index: string, after: string | undefined, limit: number): Promise<string[]> {
    if (after === undefined) return this.#redis.zrange(index, '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit)
    // Scores are the ids' times: the same millisecond by id (few), then every older one.
    const time = sessionIdTime(after)
    const [same, older] = await Promise.all([
      this.#redis.zrange(index, time, time, 'BYSCORE', 'REV'),
      this.#redis.zrange(index, `(${time}`, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit),
    ])
    return [...same.filter((id) => id < after), ...older].slice(0, limit)
  }

  /** The records of `ids`, undefined where gone: one GET each (each in its own slot), auto-pipelined. */
  async #records(ids: string[]): Promise<(SessionRecord | undefined)[]> {
    const jsons = await this.#run(() => Promise.all(ids.map((id) => this.#redis.get(this.#keys.session(id)))))
    return jsons.map((json) => (json === null ? undefined : parseRecord(json)))
  }

  /** A closed session no longer counts, is no longer due, and is retired from its close on. */
  async #closedCleanUp(closed: SessionRecord): Promise<void> {
    const keys = this.#keys
    const until = String(retainedUntil(closed))
    await this.#run(() => Promise.all([
      this.#redis.zrem(keys.sessionsOpen(closed.initiator, closed.initiator_key), closed.id),
      this.#redis.zrem(keys.sessionsDue(), closed.id),
      // ZADD XX: a record already purged is not retired again.
      this.#redis.zadd(keys.sessionsRetired(), 'XX', until, retiredMember(closed)),
    ]))
  }

  /** Removes what is past retention at `now`: listing entries, due entry, record; then the retired entry. */
  async #purge(now: number): Promise<void> {
    const keys = this.#keys
    const retired = await this.#run(() => this.#redis.zrange(keys.sessionsRetired(), '-inf', now, 'BYSCORE', 'LIMIT', 0, PURGE_BATCH))
    if (retired.length === 0) return
    await this.#run(() => Promise.all(retired.flatMap((member) => {
      const [id, ...participants] = member.split(' ') as [string, ...string[]]
      return [
        ...participants.map((mecha) => this.#redis.zrem(keys.sessionsOf(mecha), id)),
        this.#redis.zrem(keys.sessionsDue(), id),
        this.#redis.del(keys.session(id)),
      ]
    })))
    await this.#run(() => this.#redis.zrem(keys.sessionsRetired(), ...retired))
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    return runRedis('store', fn)
  }
}

/** The retired set's member: the id and the participants (mecha ids and session ids have no space). */
function retiredMember(record: SessionRecord): string {
  return [record.id, ...record.participants].join(' ')
}

function parseRecord(json: string): SessionRecord {
  return JSON.parse(json) as SessionRecord
}

/** A script's reply is the one expected; `late` (ran past its deadline) or anything else is a fault. */
function expectOutcome(reply: Reply | undefined, expected: string): void {
  if (reply?.[0] === expected) return
  const what = reply?.[0] === SESSION_OUTCOME.late ? 'ran past its deadline and wrote nothing' : `replied ${JSON.stringify(reply)}`
  throw new DependencyUnavailableError('store', new Error(`a session script ${what}`))
}
