import { createHash } from 'node:crypto'
import type { RedisClient } from './client.js'

/**
 * A Lua script every store runs the same way: EVALSHA, and the whole script (EVAL) only when the
 * server answers NOSCRIPT (it restarted, failed over, had SCRIPT FLUSH, or is a cluster node that
 * never ran it). `Args` names the keys and then the arguments, in the script's KEYS and ARGV order.
 *
 * Used instead of ioredis' `defineCommand`, which copies every command defined on a client onto each
 * pipeline the client creates: with auto-pipelining that is one pipeline per batch of commands, so
 * every script any store defined cost every batch of accepts (measured in a loop here: a pipeline took
 * 5.6 µs to create with no script defined, 14.7 µs with the 19 this service had; docs/benchmarks.md).
 */
export class RedisScript<Args extends readonly string[], Reply> {
  readonly #lua: string
  readonly #sha: string
  readonly #numberOfKeys: number

  constructor(lua: string, numberOfKeys: number) {
    if (typeof lua !== 'string' || lua === '') throw new TypeError('expected the script\'s Lua source')
    if (!Number.isInteger(numberOfKeys) || numberOfKeys < 0) throw new TypeError(`expected a number of keys, got ${numberOfKeys}`)
    this.#lua = lua
    this.#sha = createHash('sha1').update(lua).digest('hex')
    this.#numberOfKeys = numberOfKeys
  }

  /** The script's SHA-1, as EVALSHA and SCRIPT EXISTS name it. */
  get sha(): string {
    return this.#sha
  }

  /** Runs the script on `redis` (on a cluster, on the node of its first key). */
  run(redis: RedisClient, ...args: Args): Promise<Reply> {
    return (redis.evalsha(this.#sha, this.#numberOfKeys, ...args) as Promise<Reply>).catch((err: unknown) => {
      if (!isNoScript(err)) throw err
      return redis.eval(this.#lua, this.#numberOfKeys, ...args) as Promise<Reply>
    })
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT')
}
