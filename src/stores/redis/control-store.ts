import { layoutOf, pingRedis, type RedisClient } from './client.js'
import { RedisKeys } from './keys.js'
import { DependencyUnavailableError, VersionConflictError } from '../../errors/faults.js'
import type { AuditEvent, KeyRecord, MechaRecord, ModeRecord } from '../../model.js'
import type { AuditQuery, ControlStore, Page } from '../types.js'
import { changeChannel } from './change-feed.js'
import { APPEND_AUDIT, CONFLICT, DELETE_MODE, LATE, SAVE_MODE, SAVE_RECORD } from './lua.js'
import { runRedis } from './run.js'
import { RedisScript } from './script.js'

/** How many audit ids one read fetches while a type filter is looking for `limit` matches. */
const AUDIT_BATCH = 200
/**
 * A write must run within this long of being sent, else it writes nothing (lua.ts). Below the client's
 * 2 s command timeout, with room for network latency and clock skew.
 */
const WRITE_DEADLINE_MS = 1500

/** The scripts from lua.ts. */
const SCRIPTS = {
  saveRecord: new RedisScript<[
    recordKey: string, indexKey: string, auditIndexKey: string, auditEventsKey: string,
    expectedVersion: string, recordJson: string, indexMember: string, eventId: string, eventJson: string,
    changeChannel: string, changeMessage: string, deadline: string,
  ], number>(SAVE_RECORD, 4),
  saveMode: new RedisScript<[
    modeKey: string, modesKey: string, auditIndexKey: string, auditEventsKey: string,
    expectedRevision: string, recordJson: string, name: string, eventId: string, eventJson: string, deadline: string,
  ], number>(SAVE_MODE, 4),
  deleteMode: new RedisScript<[
    modeKey: string, modesKey: string, auditIndexKey: string, auditEventsKey: string,
    expectedRevision: string, name: string, eventId: string, eventJson: string, deadline: string,
  ], number>(DELETE_MODE, 4),
  appendAudit: new RedisScript<[auditIndexKey: string, auditEventsKey: string, eventId: string, eventJson: string, deadline: string], number>(APPEND_AUDIT, 2),
}

/**
 * The control store on Redis. Key layout, all under `prefix` (on a cluster `prefix{control}:`, so every
 * record, index and audit key is in one slot and every script below runs unchanged: keys.ts):
 *
 * - `mecha:<id>`, `key:<id>`: the record as a JSON string
 * - `mechas`, `mecha-keys:<mechaId>`: sorted sets, every score 0, so members list in id (byte) order
 * - `mode:<name>`: a mode as a JSON string; `modes`: sorted set of mode names (score 0)
 * - `audit`: sorted set of event ids (score 0; ids are time ordered) and `audit-events`: id -> JSON
 * - every save publishes `mecha:<id>` / `key:<id>` on the `changes` channel (change-feed.ts)
 *
 * Every write is one Lua script (lua.ts) with a deadline, so a write answered 503 during a hang does
 * not apply when Redis resumes. Any failure other than a lost compare-and-set surfaces as
 * `DependencyUnavailableError('store')`: the caller answers 503 and never sees a Redis error.
 */
export class RedisControlStore implements ControlStore {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly #now: () => number

  /** @param options.now the clock the write deadlines are taken from (tests move it). */
  constructor(redis: RedisClient, prefix: string, options: { now?: () => number } = {}) {
    prefix = new RedisKeys(prefix, layoutOf(redis)).controlPrefix()
    this.#now = options.now ?? Date.now
    this.#redis = redis
    this.#prefix = prefix
  }

  async getMecha(id: string): Promise<MechaRecord | undefined> {
    return this.#run(async () => parseOrUndefined<MechaRecord>(await this.#redis.get(this.#mechaKey(id))))
  }

  async listMechas(page: Page): Promise<MechaRecord[]> {
    checkLimit(page.limit)
    if (page.limit === 0) return []
    return this.#run(async () => {
      const min = page.after === undefined ? '-' : `(${page.after}`
      const ids = await this.#redis.zrangebylex(this.#key('mechas'), min, '+', 'LIMIT', 0, page.limit)
      return this.#records<MechaRecord>(ids.map((id) => this.#mechaKey(id)))
    })
  }

  async saveMecha(record: MechaRecord, expectedVersion: number | null, event: AuditEvent): Promise<void> {
    await this.#save('mecha', this.#mechaKey(record.id), this.#key('mechas'), record, expectedVersion, event)
  }

  async getKey(id: string): Promise<KeyRecord | undefined> {
    return this.#run(async () => parseOrUndefined<KeyRecord>(await this.#redis.get(this.#keyKey(id))))
  }

  async listKeys(mechaId: string): Promise<KeyRecord[]> {
    return this.#run(async () => {
      const ids = await this.#redis.zrangebylex(this.#mechaKeysKey(mechaId), '-', '+')
      return this.#records<KeyRecord>(ids.map((id) => this.#keyKey(id)))
    })
  }

  async saveKey(record: KeyRecord, expectedVersion: number | null, event: AuditEvent): Promise<void> {
    await this.#save('key', this.#keyKey(record.id), this.#mechaKeysKey(record.mecha), record, expectedVersion, event)
  }

  async getMode(name: string): Promise<ModeRecord | undefined> {
    return this.#run(async () => parseOrUndefined<ModeRecord>(await this.#redis.get(this.#modeKey(name))))
  }

  async listModes(): Promise<ModeRecord[]> {
    return this.#run(async () => {
      const names = await this.#redis.zrangebylex(this.#key('modes'), '-', '+')
      return this.#records<ModeRecord>(names.map((name) => this.#modeKey(name)))
    })
  }

  async saveMode(record: ModeRecord, expectedRevision: number | null, event: AuditEvent): Promise<void> {
    const outcome = await this.#run(() =>
      SCRIPTS.saveMode.run(
        this.#redis,
        this.#modeKey(record.name), this.#key('modes'), this.#key('audit'), this.#key('audit-events'),
        expectedRevision === null ? '' : String(expectedRevision), JSON.stringify(record), record.name,
        event.id, JSON.stringify(event), this.#deadline(),
      ),
    )
    if (outcome === LATE) throw late()
    if (outcome === CONFLICT) throw new VersionConflictError(`mode ${record.name}`)
  }

  async deleteMode(name: string, expectedRevision: number, event: AuditEvent): Promise<void> {
    const outcome = await this.#run(() =>
      SCRIPTS.deleteMode.run(
        this.#redis,
        this.#modeKey(name), this.#key('modes'), this.#key('audit'), this.#key('audit-events'),
        String(expectedRevision), name, event.id, JSON.stringify(event), this.#deadline(),
      ),
    )
    if (outcome === LATE) throw late()
    if (outcome === CONFLICT) throw new VersionConflictError(`mode ${name}`)
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    const outcome = await this.#run(() =>
      SCRIPTS.appendAudit.run(this.#redis, this.#key('audit'), this.#key('audit-events'), event.id, JSON.stringify(event), this.#deadline()),
    )
    if (outcome === LATE) throw late()
  }

  async listAudit(query: AuditQuery): Promise<AuditEvent[]> {
    checkLimit(query.limit)
    if (query.limit === 0) return []
    return this.#run(async () => {
      // Without a filter every id read is a match; with one, read in batches until enough match.
      const batch = query.type === undefined ? query.limit : Math.max(query.limit, AUDIT_BATCH)
      const out: AuditEvent[] = []
      let max = query.before === undefined ? '+' : `(${query.before}`
      for (;;) {
        const ids = await this.#redis.zrevrangebylex(this.#key('audit'), max, '-', 'LIMIT', 0, batch)
        if (ids.length === 0) return out
        for (const json of await this.#redis.hmget(this.#key('audit-events'), ...ids)) {
          if (json === null) continue
          const event = JSON.parse(json) as AuditEvent
          if (query.type !== undefined && event.type !== query.type) continue
          out.push(event)
          if (out.length >= query.limit) return out
        }
        const last = ids[ids.length - 1]
        if (ids.length < batch || last === undefined) return out
        max = `(${last}`
      }
    })
  }

  async ping(): Promise<void> {
    await this.#run(() => pingRedis(this.#redis))
  }

  async close(): Promise<void> {
    const redis = this.#redis
    if (redis.status === 'end') return
    // QUIT needs a live connection; while Redis is down, just stop the client reconnecting.
    if (redis.status !== 'ready') {
      redis.disconnect()
      return
    }
    try {
      await redis.quit()
    } catch {
      redis.disconnect()
    }
  }

  async #save(
    kind: 'mecha' | 'key', recordKey: string, indexKey: string, record: { id: string },
    expectedVersion: number | null, event: AuditEvent,
  ): Promise<void> {
    const outcome = await this.#run(() =>
      SCRIPTS.saveRecord.run(
        this.#redis,
        recordKey, indexKey, this.#key('audit'), this.#key('audit-events'),
        expectedVersion === null ? '' : String(expectedVersion), JSON.stringify(record), record.id,
        event.id, JSON.stringify(event), changeChannel(this.#prefix), `${kind}:${record.id}`, this.#deadline(),
      ),
    )
    if (outcome === LATE) throw late()
    if (outcome === CONFLICT) throw new VersionConflictError(`${kind} ${record.id}`)
  }

  async #records<T>(keys: string[]): Promise<T[]> {
    if (keys.length === 0) return []
    const values = await this.#redis.mget(...keys)
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as T)
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    return runRedis('store', fn)
  }

  #deadline(): string {
    return String(this.#now() + WRITE_DEADLINE_MS)
  }

  #key(name: string): string {
    return `${this.#prefix}${name}`
  }

  #mechaKey(id: string): string {
    return `${this.#prefix}mecha:${id}`
  }

  #keyKey(id: string): string {
    return `${this.#prefix}key:${id}`
  }

  #modeKey(name: string): string {
    return `${this.#prefix}mode:${name}`
  }

  #mechaKeysKey(mechaId: string): string {
    return `${this.#prefix}mecha-keys:${mechaId}`
  }
}

function parseOrUndefined<T>(json: string | null): T | undefined {
  return json === null ? undefined : (JSON.parse(json) as T)
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`expected limit to be a non-negative integer, got ${limit}`)
}

function late(): DependencyUnavailableError {
  return new DependencyUnavailableError('store', new Error('the write ran after its deadline: nothing was stored'))
}
