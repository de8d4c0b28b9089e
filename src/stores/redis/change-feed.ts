import { Cluster } from 'ioredis'
import { layoutOf, type RedisClient } from './client.js'
import { RedisKeys } from './keys.js'
import type { ChangeFeed, RecordChange } from '../types.js'

/**
 * The channel the Redis control store publishes `mecha:<id>` / `key:<id>` to, inside its save script.
 * `prefix` is the control store's own (RedisKeys.controlPrefix: on a cluster it carries the `{control}` tag).
 * Classic pub/sub, on a cluster too: every node forwards it, and there are few changes.
 */
export function changeChannel(prefix: string): string {
  return `${prefix}changes`
}

/** A refused SUBSCRIBE is tried again this much later. */
const RETRY_MS = 250

/**
 * Change feed over Redis pub/sub on a dedicated subscriber connection. Pub/sub is fire-and-forget:
 * while the subscriber is disconnected, changes are lost, so the feed reports `live === false` and
 * emits `reset` on every disconnect and again on every resubscription (changes may have happened in
 * between). Caches read through while it is not live.
 */
export class RedisChangeFeed implements ChangeFeed {
  readonly #subscriber: RedisClient
  readonly #channel: string
  readonly #listeners = new Set<(change: RecordChange | 'reset') => void>()
  #live = false
  #closed = false

  /** @param prefix the key prefix the control store was given (its channel follows RedisKeys.controlPrefix). */
  constructor(subscriber: RedisClient, prefix: string) {
    this.#subscriber = subscriber
    this.#channel = changeChannel(new RedisKeys(prefix, layoutOf(subscriber)).controlPrefix())
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.#channel) return
      const change = parseChange(message)
      if (change !== undefined) this.#emit(change)
    })
    subscriber.on('close', () => this.#down())
    subscriber.on('end', () => this.#down())
    // ioredis resubscribes on reconnect by itself; 'ready' follows once it has.
    subscriber.on('ready', () => { void this.#subscribe() })
    if (subscriber instanceof Cluster) {
      // The node a cluster subscribes through can leave (ioredis moves the subscription to another):
      // changes published in between are lost, so caches start over.
      subscriber.on('-node', () => { if (this.#live) this.#emit('reset') })
      subscriber.on('+node', () => { if (this.#live) this.#emit('reset') })
    }
    if (subscriber.status === 'ready') void this.#subscribe()
  }

  get live(): boolean {
    return this.#live
  }

  subscribe(listener: (change: RecordChange | 'reset') => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Resolves once the feed is live (or rejects after timeoutMs). */
  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.#live) {
      if (Date.now() > deadline) throw new Error(`change feed not live after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
    this.#live = false
  }

  async #subscribe(): Promise<void> {
    try {
      await this.#subscriber.subscribe(this.#channel)
      this.#live = true
      this.#emit('reset')
    } catch {
      this.#down()
      // Refused while the connection (or a cluster's subscriber node) is not ready yet: try again
      // shortly, as long as the feed is open; a reconnect's 'ready' also tries again.
      if (!this.#closed && this.#subscriber.status === 'ready') setTimeout(() => { if (!this.#closed && !this.#live) void this.#subscribe() }, RETRY_MS).unref()
    }
  }

  #down(): void {
    if (!this.#live) return
    this.#live = false
    this.#emit('reset')
  }

  #emit(change: RecordChange | 'reset'): void {
    for (const listener of this.#listeners) listener(change)
  }
}

function parseChange(message: string): RecordChange | undefined {
  const colon = message.indexOf(':')
  const kind = message.slice(0, colon)
  if (kind !== 'mecha' && kind !== 'key') return undefined
  return { kind, id: message.slice(colon + 1) }
}
