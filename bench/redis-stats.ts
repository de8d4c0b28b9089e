import { Redis } from 'ioredis'

/**
 * Redis counters around a run, read with one INFO per snapshot on a connection of the bench's own
 * (no auto-pipelining). Each delta therefore contains exactly one of these INFO commands, and one
 * read event for it, which `delta` subtracts.
 *
 * What the counters mean (Redis 7):
 * - `total_commands_processed` and commandstats count the commands a script runs too (an accept
 *   script is one EVALSHA plus the ten or so commands inside it), so they measure work, not trips;
 * - `total_reads_processed` counts read events on client sockets: one per batch of commands a
 *   client sent together. That is the round-trip count, after ioredis's auto-pipelining has merged
 *   concurrent commands into shared writes (so it can be below one per message under load).
 */
export interface RedisSnapshot {
  commands: number
  reads: number
  usedMemory: number
  /** Calls per command name (commandstats), e.g. `evalsha`, `get`. */
  calls: Map<string, number>
}

export interface RedisDelta {
  /** Messages Redis accepted during the run (the inbox's length; the bench empties it first). */
  accepted?: number
  /** Client commands and commands run inside scripts. */
  commands: number
  /** Read events on client sockets: network round trips. */
  reads: number
  usedMemoryBytes: number
  calls: Record<string, number>
}

export class RedisStats {
  readonly #redis: Redis

  constructor(url: string) {
    this.#redis = new Redis(url, { lazyConnect: false, enableAutoPipelining: false, maxRetriesPerRequest: 1 })
  }

  async snapshot(): Promise<RedisSnapshot> {
    const info = String(await this.#redis.call('INFO', 'stats', 'memory', 'commandstats'))
    const field = (name: string): number => {
      const match = new RegExp(`^${name}:(\\d+)`, 'm').exec(info)
      if (match === null) throw new Error(`INFO has no ${name}`)
      return Number(match[1])
    }
    const calls = new Map<string, number>()
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] as string, Number(match[2]))
    return { commands: field('total_commands_processed'), reads: field('total_reads_processed'), usedMemory: field('used_memory'), calls }
  }

  /**
   * Drop a recipient's inbox stream and id map, so Redis memory stays bounded between runs. DEL, not
   * UNLINK: the memory must be free before the next run's `used_memory` is read, not freed during it.
   */
  async dropInbox(prefix: string, recipient: string): Promise<void> {
    await this.#redis.del(`${prefix}inbox:${recipient}`, `${prefix}inbox-ids:${recipient}`, `${prefix}inbox-due:${recipient}`)
  }

  async inboxLength(prefix: string, recipient: string): Promise<number> {
    return this.#redis.xlen(`${prefix}inbox:${recipient}`)
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect())
  }
}

export function delta(before: RedisSnapshot, after: RedisSnapshot): RedisDelta {
  const calls: Record<string, number> = {}
  for (const [name, n] of after.calls) {
    const d = n - (before.calls.get(name) ?? 0)
    if (d > 0 && name !== 'info') calls[name] = d
  }
  return {
    commands: after.commands - before.commands - 1,
    reads: after.reads - before.reads - 1,
    usedMemoryBytes: after.usedMemory - before.usedMemory,
    calls,
  }
}
