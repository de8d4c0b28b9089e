import { newEventId } from '../crypto/ids.js'
import { VersionConflictError } from '../errors/faults.js'
import { Problem } from '../errors/problem.js'
import type { AuditEvent, AuditType, ModeRecord } from '../model.js'
import type { ControlStore } from '../stores/types.js'

/** What a PUT gives; the name comes from the path. */
export interface ModeInput {
  kinds: string[]
  description?: string | null
  version: number
}

/**
 * Who changes a mode: an operator on the control plane, or a runtime key with
 * `permissions.sessions.can_manage_modes` through the gateway.
 */
export type ModeActor =
  | { kind: 'operator'; operator: string; requestId: string }
  | { kind: 'key'; keyId: string; mecha: string; requestId: string }

export type ModePut = { outcome: 'created' | 'replaced' | 'unchanged'; mode: ModeRecord }

const MAX_CAS_ATTEMPTS = 5

/**
 * The registry of session modes, free of HTTP: the control plane and the gateway both write through
 * it, so one set of rules holds for both. Modes are descriptive (reading one grants nothing); every
 * change is a compare-and-set on the record's `revision`, stored with its audit event.
 */
export class ModeRegistry {
  readonly #store: ControlStore
  readonly #now: () => number

  constructor(store: ControlStore, now: () => number = Date.now) {
    this.#store = store
    this.#now = now
  }

  async list(): Promise<ModeRecord[]> {
    return this.#store.listModes()
  }

  async get(name: string): Promise<ModeRecord> {
    const mode = await this.#store.getMode(name)
    if (mode === undefined) throw new Problem('unknown_mode', `no mode ${JSON.stringify(name.slice(0, 64))}`)
    return mode
  }

  /** Create or replace. Sending what is already stored changes nothing and records nothing. */
  async put(actor: ModeActor, name: string, input: ModeInput): Promise<ModePut> {
    const by = actorName(actor)
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.#store.getMode(name)
      const description = input.description ?? null
      if (current !== undefined && sameContent(current, input.kinds, description, input.version)) return { outcome: 'unchanged', mode: current }
      const now = this.#iso()
      const next: ModeRecord = {
        name, kinds: [...input.kinds], description, version: input.version,
        created_at: current?.created_at ?? now, created_by: current?.created_by ?? by,
        updated_at: now, updated_by: by, revision: (current?.revision ?? 0) + 1,
      }
      const event = this.#event(actor, 'mode.put', name, { created: current === undefined, kinds: next.kinds, version: next.version })
      try {
        await this.#store.saveMode(next, current?.revision ?? null, event)
        return { outcome: current === undefined ? 'created' : 'replaced', mode: next }
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err
      }
    }
    throw new Problem('concurrent_update')
  }

  async delete(actor: ModeActor, name: string): Promise<void> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.get(name)
      try {
        await this.#store.deleteMode(name, current.revision, this.#event(actor, 'mode.deleted', name, { revision: current.revision }))
        return
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err
      }
    }
    throw new Problem('concurrent_update')
  }

  #iso(): string {
    return new Date(this.#now()).toISOString()
  }

  #event(actor: ModeActor, type: AuditType, name: string, details: Record<string, unknown>): AuditEvent {
    return {
      id: newEventId(this.#now()),
      time: this.#iso(),
      type,
      operator: actor.kind === 'operator' ? actor.operator : null,
      target: { kind: 'mode', id: name },
      request_id: actor.requestId,
      details: actor.kind === 'key' ? { ...details, key: actor.keyId, mecha: actor.mecha } : details,
    }
  }
}

/** How a record names who wrote it: the operator, or `key:<key id>`. */
function actorName(actor: ModeActor): string {
  return actor.kind === 'operator' ? actor.operator : `key:${actor.keyId}`
}

function sameContent(mode: ModeRecord, kinds: readonly string[], description: string | null, version: number): boolean {
  return mode.version === version && mode.description === description
    && mode.kinds.length === kinds.length && mode.kinds.every((k, i) => k === kinds[i])
}
