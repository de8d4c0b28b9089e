import type { AuditEvent, AuditType, KeyRecord, MechaRecord, ModeRecord } from '../model.js'

export interface Page {
  limit: number
  /** Return ids strictly greater than this one (ascending listings). */
  after?: string
}

export interface AuditQuery {
  limit: number
  /** Return events strictly older than this event id (newest first). */
  before?: string
  type?: AuditType
}

/**
 * The control-plane store. Every write is a compare-and-set on the record's `version` (a mode's
 * `revision`) and carries the
 * audit event that describes it: the record and its event are written atomically or not at all.
 *
 * Implementations throw `VersionConflictError` when `expectedVersion` does not match (`null` means the
 * record must not exist yet) and `DependencyUnavailableError('store')` when the backing store cannot
 * be reached. One contract suite (test/contract/control-store.contract.ts) runs against each.
 */
export interface ControlStore {
  getMecha(id: string): Promise<MechaRecord | undefined>
  /** Ascending by id. */
  listMechas(page: Page): Promise<MechaRecord[]>
  saveMecha(record: MechaRecord, expectedVersion: number | null, event: AuditEvent): Promise<void>

  getKey(id: string): Promise<KeyRecord | undefined>
  /** All keys of one mecha, ascending by key id. */
  listKeys(mechaId: string): Promise<KeyRecord[]>
  /** Saving a new key (expectedVersion null) also indexes it under its mecha. */
  saveKey(record: KeyRecord, expectedVersion: number | null, event: AuditEvent): Promise<void>

  getMode(name: string): Promise<ModeRecord | undefined>
  /** Every mode, ascending by name (modes are few: the service caps their number). */
  listModes(): Promise<ModeRecord[]>
  /** Create (expectedRevision null) or replace a mode; compares and sets on `revision`. */
  saveMode(record: ModeRecord, expectedRevision: number | null, event: AuditEvent): Promise<void>
  /** Delete a mode at `expectedRevision`; throws VersionConflictError when it is missing or changed. */
  deleteMode(name: string, expectedRevision: number, event: AuditEvent): Promise<void>

  appendAudit(event: AuditEvent): Promise<void>
  /** Newest first. */
  listAudit(query: AuditQuery): Promise<AuditEvent[]>

  /** Resolves when the store answers; throws DependencyUnavailableError otherwise. */
  ping(): Promise<void>
  close(): Promise<void>
}

export interface RecordChange {
  kind: 'mecha' | 'key'
  id: string
}

/**
 * Announces control-store changes so that caches on the hot path (gateway key and mecha records) can
 * drop stale entries at once, on every instance. When the feed cannot vouch for having delivered
 * every change (its connection dropped), it says `reset` and reports `live === false` until it is
 * back: caches must then clear and read through.
 */
export interface ChangeFeed {
  readonly live: boolean
  subscribe(listener: (change: RecordChange | 'reset') => void): () => void
  close(): Promise<void>
}
