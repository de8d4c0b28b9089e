import type { KeyRecord, MechaRecord } from '../model.js'
import type { ChangeFeed, ControlStore, RecordChange } from '../stores/types.js'

export interface RecordCacheOptions {
  /** How long a record may be served from memory. A backstop: the change feed evicts on every change. */
  ttlMs: number
  /** How long "no such key/mecha" is remembered, so that sprayed random ids cost one read each per period. */
  negativeTtlMs: number
  /** Entries per kind; the oldest are evicted first. */
  maxEntries: number
  now?: () => number
}

interface Entry<T> {
  value: T | undefined
  expires: number
}

/**
 * Key and mecha records for the hot path. In steady state a lookup costs no store round trip. Freshness:
 * every control-store change is announced on the change feed (same process: synchronously; other
 * processes: Redis pub/sub, typically well under 10 ms) and evicts the entry; while the feed is not
 * live the cache is bypassed entirely, so revocation never waits for the TTL.
 */
export class RecordCache {
  readonly #store: ControlStore
  readonly #feed: ChangeFeed
  readonly #options: Required<RecordCacheOptions>
  readonly #keys = new Map<string, Entry<KeyRecord>>()
  readonly #mechas = new Map<string, Entry<MechaRecord>>()
  /** Reads in flight, so concurrent misses for one record share one store read (no thundering herd at expiry). */
  readonly #loading = new Map<string, Promise<unknown>>()
  /** Bumped on every change: a read that started before a change must not repopulate the cache. */
  #generation = 0
  readonly #unsubscribe: () => void
  /** Told of every change after it evicted its entry (open connections re-check their authorization). */
  readonly #listeners = new Set<(change: RecordChange | 'reset') => void>()

  constructor(store: ControlStore, feed: ChangeFeed, options: RecordCacheOptions) {
    for (const name of ['ttlMs', 'negativeTtlMs', 'maxEntries'] as const) {
      if (!Number.isInteger(options[name]) || options[name] < 0) throw new RangeError(`expected ${name} to be a non-negative integer, got ${options[name]}`)
    }
    this.#store = store
    this.#feed = feed
    this.#options = { now: Date.now, ...options }
    this.#unsubscribe = feed.subscribe((change) => {
      this.#generation++
      if (change === 'reset') {
        this.#keys.clear()
        this.#mechas.clear()
      } else {
        (change.kind === 'key' ? this.#keys : this.#mechas).delete(change.id)
      }
      for (const listener of this.#listeners) listener(change)
    })
  }

  /** The record; synchronously on a cache hit (the hot path then allocates no promise). */
  getKey(id: string): KeyRecord | undefined | Promise<KeyRecord | undefined> {
    return this.#get(this.#keys, id, () => this.#store.getKey(id))
  }

  getMecha(id: string): MechaRecord | undefined | Promise<MechaRecord | undefined> {
    return this.#get(this.#mechas, id, () => this.#store.getMecha(id))
  }

  /** Whether changes are being announced (while not, every lookup reads the store). */
  get live(): boolean {
    return this.#feed.live
  }

  /** Be told of every change (after the cache has dropped the changed record); returns the unsubscribe. */
  onChange(listener: (change: RecordChange | 'reset') => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  close(): void {
    this.#listeners.clear()
    this.#unsubscribe()
    this.#keys.clear()
    this.#mechas.clear()
  }

  #get<T>(map: Map<string, Entry<T>>, id: string, load: () => Promise<T | undefined>): T | undefined | Promise<T | undefined> {
    const now = this.#options.now()
    if (this.#feed.live) {
      const hit = map.get(id)
      if (hit !== undefined && hit.expires > now) return hit.value
    }
    return this.#load(map, id, load, now)
  }

  async #load<T>(map: Map<string, Entry<T>>, id: string, load: () => Promise<T | undefined>, now: number): Promise<T | undefined> {
    const generation = this.#generation
    const flightKey = `${map === this.#keys ? 'k' : 'm'}:${id}:${generation}`
    let flight = this.#loading.get(flightKey) as Promise<T | undefined> | undefined
    if (flight === undefined) {
      flight = load().finally(() => this.#loading.delete(flightKey))
      this.#loading.set(flightKey, flight)
    }
    const value = await flight
    if (this.#feed.live && generation === this.#generation) {
      map.delete(id)
      map.set(id, { value, expires: now + (value === undefined ? this.#options.negativeTtlMs : this.#options.ttlMs) })
      if (map.size > this.#options.maxEntries) {
        const oldest = map.keys().next().value
        if (oldest !== undefined) map.delete(oldest)
      }
    }
    return value
  }
}
