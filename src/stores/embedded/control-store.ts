import type { Database } from 'lmdb'
import { DependencyUnavailableError, VersionConflictError } from '../../errors/faults.js'
import type { AuditEvent, KeyRecord, MechaRecord, ModeRecord } from '../../model.js'
import type { AuditQuery, ControlStore, Page } from '../types.js'
import type { EmbeddedDatabase } from './database.js'
import { LocalChangeFeed } from '../local-change-feed.js'

const CONFLICT = Symbol('conflict')

/** The control store on LMDB: durable in the data directory, every write one transaction. */
export class EmbeddedControlStore implements ControlStore {
  readonly #db: EmbeddedDatabase
  readonly #mechas: Database<MechaRecord, string>
  readonly #keys: Database<KeyRecord, string>
  /** [mechaId, keyId] -> true: the keys of a mecha, in key id order. */
  readonly #keysByMecha: Database<true, [string, string]>
  readonly #modes: Database<ModeRecord, string>
  readonly #audit: Database<AuditEvent, string>
  /** Announces each committed mecha or key change (gateway caches subscribe). */
  readonly changes = new LocalChangeFeed()

  constructor(db: EmbeddedDatabase) {
    this.#db = db
    this.#mechas = db.root.openDB<MechaRecord, string>({ name: 'mechas' })
    this.#keys = db.root.openDB<KeyRecord, string>({ name: 'keys' })
    this.#keysByMecha = db.root.openDB<true, [string, string]>({ name: 'keys-by-mecha' })
    this.#modes = db.root.openDB<ModeRecord, string>({ name: 'modes' })
    this.#audit = db.root.openDB<AuditEvent, string>({ name: 'audit' })
  }

  async getMecha(id: string): Promise<MechaRecord | undefined> {
    return this.#read(() => this.#mechas.get(id))
  }

  async listMechas(page: Page): Promise<MechaRecord[]> {
    return this.#read(() =>
      Array.from(
        this.#mechas.getRange(page.after === undefined ? { limit: page.limit } : { start: page.after, exclusiveStart: true, limit: page.limit }),
        ({ value }) => value,
      ),
    )
  }

  async saveMecha(record: MechaRecord, expectedVersion: number | null, event: AuditEvent): Promise<void> {
    await this.#write(`mecha ${record.id}`, () => {
      if (versionOf(this.#mechas.get(record.id)) !== expectedVersion) return CONFLICT
      void this.#mechas.put(record.id, record)
      void this.#audit.put(event.id, event)
      return undefined
    })
    this.changes.publish({ kind: 'mecha', id: record.id })
  }

  async getKey(id: string): Promise<KeyRecord | undefined> {
    return this.#read(() => this.#keys.get(id))
  }

  async listKeys(mechaId: string): Promise<KeyRecord[]> {
    return this.#read(() => {
      const ids = Array.from(this.#keysByMecha.getKeys({ start: [mechaId], end: [mechaId, '\uffff'] }), (k) => k[1])
      return ids.map((id) => this.#keys.get(id)).filter((k): k is KeyRecord => k !== undefined)
    })
  }

  async saveKey(record: KeyRecord, expectedVersion: number | null, event: AuditEvent): Promise<void> {
    await this.#write(`key ${record.id}`, () => {
      if (versionOf(this.#keys.get(record.id)) !== expectedVersion) return CONFLICT
      void this.#keys.put(record.id, record)
      if (expectedVersion === null) void this.#keysByMecha.put([record.mecha, record.id], true)
      void this.#audit.put(event.id, event)
      return undefined
    })
    this.changes.publish({ kind: 'key', id: record.id })
  }

  async getMode(name: string): Promise<ModeRecord | undefined> {
    return this.#read(() => this.#modes.get(name))
  }

  async listModes(): Promise<ModeRecord[]> {
    return this.#read(() => Array.from(this.#modes.getRange(), ({ value }) => value))
  }

  async saveMode(record: ModeRecord, expectedRevision: number | null, event: AuditEvent): Promise<void> {
    await this.#write(`mode ${record.name}`, () => {
      if (revisionOf(this.#modes.get(record.name)) !== expectedRevision) return CONFLICT
      void this.#modes.put(record.name, record)
      void this.#audit.put(event.id, event)
      return undefined
    })
  }

  async deleteMode(name: string, expectedRevision: number, event: AuditEvent): Promise<void> {
    await this.#write(`mode ${name}`, () => {
      if (revisionOf(this.#modes.get(name)) !== expectedRevision) return CONFLICT
      void this.#modes.remove(name)
      void this.#audit.put(event.id, event)
      return undefined
    })
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    await this.#write('audit', () => {
      void this.#audit.put(event.id, event)
      return undefined
    })
  }

  async listAudit(query: AuditQuery): Promise<AuditEvent[]> {
    return this.#read(() => {
      const range = this.#audit.getRange(
        query.before === undefined ? { reverse: true } : { start: query.before, exclusiveStart: true, reverse: true },
      )
      const out: AuditEvent[] = []
      for (const { value } of range) {
        if (query.type !== undefined && value.type !== query.type) continue
        out.push(value)
        if (out.length >= query.limit) break
      }
      return out
    })
  }

  async ping(): Promise<void> {
    this.#read(() => this.#mechas.getStats())
  }

  async close(): Promise<void> {
    await this.#db.close()
  }

  #read<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw new DependencyUnavailableError('store', err)
    }
  }

  async #write(what: string, fn: () => typeof CONFLICT | undefined): Promise<void> {
    let outcome: typeof CONFLICT | undefined
    try {
      outcome = await this.#db.root.transaction(fn)
    } catch (err) {
      throw new DependencyUnavailableError('store', err)
    }
    if (outcome === CONFLICT) throw new VersionConflictError(what)
  }
}

function versionOf(record: { version: number } | undefined): number | null {
  return record === undefined ? null : record.version
}

function revisionOf(record: ModeRecord | undefined): number | null {
  return record === undefined ? null : record.revision
}
