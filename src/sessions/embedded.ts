import type { Database } from 'lmdb'
import { DependencyUnavailableError } from '../errors/faults.js'
import type { EmbeddedDatabase } from '../stores/embedded/database.js'
import {
  checkChange, checkLimit, checkListOptions, checkNow, checkSessionId, checkStart, closeAllowed, closedRecord, retainedUntil,
  type SessionChange, type SessionCloseResult, type SessionListOptions, type SessionRecord, type SessionStartOptions, type SessionStartResult,
  type SessionStore,
} from './types.js'

/** Sorts after every id and number in a key's last element: the end of a prefix's range. */
const RANGE_END = '\uffff'
/** Records past retention removed per due() transaction, so a cleanup never holds the write lock for long. */
const PURGE_BATCH = 500

/**
 * Sessions on LMDB, in the environment of the other embedded stores. Named databases:
 *
 * - `sessions`: id -> SessionRecord.
 * - `sessions-open`: [initiator, key id, expires ms, id] -> true: a key's open sessions, earliest
 *   expiry first. A start prunes the entries with expires <= now and counts the rest; a close removes its own.
 * - `sessions-by-mecha`: [mecha, id] -> true, one per participant: the listing index (ids sort by time).
 * - `sessions-due`: [expires ms, id] -> true for every open session: the sweeper's read.
 * - `sessions-retired`: [retained-until ms, id] -> true: when the record goes (24 h after its close,
 *   or after its expiry while never closed). due() removes what is past it, record and listing
 *   entries in one transaction: the cleanup rides on the sweeper's once-a-second read, and costs a
 *   write only when something is due (a read-only look first).
 *
 * Every write is one transaction, and LMDB runs write transactions one at a time: the count and the
 * insert of a start cannot interleave with another start, which is what makes max_open atomic (one
 * process holds the data directory, data-dir-lock.ts).
 */
export class EmbeddedSessionStore implements SessionStore {
  readonly #db: EmbeddedDatabase
  readonly #records: Database<SessionRecord, string>
  readonly #open: Database<true, [string, string, number, string]>
  readonly #byMecha: Database<true, [string, string]>
  readonly #due: Database<true, [number, string]>
  readonly #retired: Database<true, [number, string]>

  constructor(db: EmbeddedDatabase) {
    if (typeof db?.root?.openDB !== 'function') throw new TypeError('expected an embedded database (openEmbeddedDatabase)')
    this.#db = db
    this.#records = db.root.openDB<SessionRecord, string>({ name: 'sessions' })
    this.#open = db.root.openDB<true, [string, string, number, string]>({ name: 'sessions-open' })
    this.#byMecha = db.root.openDB<true, [string, string]>({ name: 'sessions-by-mecha' })
    this.#due = db.root.openDB<true, [number, string]>({ name: 'sessions-due' })
    this.#retired = db.root.openDB<true, [number, string]>({ name: 'sessions-retired' })
  }

  async start(record: SessionRecord, options: SessionStartOptions): Promise<SessionStartResult> {
    checkStart(record, options)
    const expires = Date.parse(record.expires_at)
    const result = await this.#write((): SessionStartResult | 'id_taken' => {
      if (this.#records.get(record.id) !== undefined) return 'id_taken'
      const { open, earliest } = this.#countOpen(record.initiator, record.initiator_key, options.now)
      if (options.maxOpen !== null && open >= options.maxOpen) return { outcome: 'too_many_open', open, earliestExpiresAt: earliest ?? expires }
      void this.#records.put(record.id, record)
      void this.#open.put([record.initiator, record.initiator_key, expires, record.id], true)
      for (const mecha of record.participants) void this.#byMecha.put([mecha, record.id], true)
      void this.#due.put([expires, record.id], true)
      void this.#retired.put([retainedUntil(record), record.id], true)
      return { outcome: 'started' }
    })
    if (result === 'id_taken') throw new Error(`session id ${record.id} is already stored (ids must be new)`)
    return result
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    checkSessionId(id)
    return this.#read(() => this.#records.get(id))
  }

  async listFor(mecha: string, options: SessionListOptions): Promise<SessionRecord[]> {
    checkListOptions(mecha, options)
    const { after, limit } = options
    return this.#read(() => {
      const records: SessionRecord[] = []
      for (const [, id] of this.#byMecha.getKeys({ start: [mecha, after ?? RANGE_END], end: [mecha], reverse: true })) {
        if (id === after) continue
        const record = this.#records.get(id)
        if (record !== undefined) records.push(record)
        if (records.length >= limit) break
      }
      return records
    })
  }

  async close(id: string, change: SessionChange): Promise<SessionCloseResult> {
    checkSessionId(id)
    checkChange(change)
    return this.#write((): SessionCloseResult => {
      const record = this.#records.get(id)
      if (record === undefined) return { outcome: 'missing' }
      if (!closeAllowed(record, change.state, change.now)) return { outcome: 'not_open', record }
      const closed = closedRecord(record, change)
      const expires = Date.parse(record.expires_at)
      void this.#records.put(id, closed)
      void this.#open.remove([record.initiator, record.initiator_key, expires, id])
      void this.#due.remove([expires, id])
      void this.#retired.remove([retainedUntil(record), id])
      void this.#retired.put([retainedUntil(closed), id], true)
      return { outcome: 'closed', record: closed }
    })
  }

  async due(now: number, limit: number): Promise<SessionRecord[]> {
    checkNow(now)
    checkLimit(limit)
    if (this.#read(() => this.#retiredBy(now, 1).length > 0)) await this.#purge(now)
    return this.#read(() => {
      const records: SessionRecord[] = []
      for (const [, id] of this.#due.getKeys({ end: [now + 1], limit })) {
        const record = this.#records.get(id)
        if (record !== undefined) records.push(record)
      }
      return records
    })
  }

  async ping(): Promise<void> {
    this.#read(() => this.#records.getKeysCount({ limit: 1 }))
  }

  /** The key's open sessions at `now` (pruning those past expiry) and the earliest expiry among them. */
  #countOpen(initiator: string, keyId: string, now: number): { open: number; earliest: number | undefined } {
    let open = 0
    let earliest: number | undefined
    for (const key of this.#open.getKeys({ start: [initiator, keyId], end: [initiator, keyId, RANGE_END] })) {
      const expires = key[2]
      if (expires <= now) {
        void this.#open.remove(key)
        continue
      }
      earliest ??= expires
      open++
    }
    return { open, earliest }
  }

  #retiredBy(now: number, limit: number): [number, string][] {
    return Array.from(this.#retired.getKeys({ end: [now + 1], limit }))
  }

  /** Removes records past retention with their listing, due and open entries, a batch per transaction. */
  async #purge(now: number): Promise<void> {
    for (;;) {
      const batch = await this.#write(() => {
        const retired = this.#retiredBy(now, PURGE_BATCH)
        for (const [until, id] of retired) {
          void this.#retired.remove([until, id])
          const record = this.#records.get(id)
          if (record === undefined) continue
          const expires = Date.parse(record.expires_at)
          for (const mecha of record.participants) void this.#byMecha.remove([mecha, id])
          void this.#due.remove([expires, id])
          void this.#open.remove([record.initiator, record.initiator_key, expires, id])
          void this.#records.remove(id)
        }
        return retired.length
      })
      if (batch < PURGE_BATCH) return
    }
  }

  #read<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw new DependencyUnavailableError('store', err)
    }
  }

  async #write<T>(fn: () => T): Promise<T> {
    try {
      return await this.#db.root.transaction(fn)
    } catch (err) {
      throw new DependencyUnavailableError('store', err)
    }
  }
}
