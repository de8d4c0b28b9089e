import type { Redis } from 'ioredis'
import { DependencyUnavailableError, ReplayCacheUnsafeError } from '../errors/faults.js'

/**
 * The replay cache's Redis checks, run when it starts, on every reconnect (ioredis 'ready') and every
 * `intervalMs`, never per request: a claim only reads the state they leave (`assertSafe`).
 *
 * 1. `maxmemory-policy` must be `noeviction`: under any other policy Redis may evict nonce keys first
 *    (they carry a TTL, the volatile-* policies' candidates) and a captured request replays. Read with
 *    CONFIG GET, or from INFO memory where CONFIG is disabled (managed Redis); if neither answers, the
 *    policy is unknown, which is refused like a bad one.
 * 2. The epoch script (START_EPOCH): the server's run_id, read inside the script from INFO so it is the
 *    instance that runs the script, is compared with the one recorded beside the epoch. A different
 *    run_id means a restart, a restore from a snapshot, a failover to a replica (each has its own
 *    run_id), or a dataset replaced under the same key names: writes may be lost, and the epoch moves
 *    to now. So does a return to noeviction after a bad policy was seen (evictions may have happened).
 *
 * Between a disconnect and the end of the checks on the new connection every claim fails closed
 * (503 replay_cache_unavailable): a claim pipelined behind the policy check would otherwise run
 * against the old epoch of a restored dataset.
 */

/** Outcomes of START_EPOCH, second element of its reply. */
export const EPOCH_OUTCOME = { new: 'new', kept: 'kept', bumped: 'bumped' } as const

/**
 * KEYS: [1] replay epoch, [2] run id recorded beside it.
 * ARGV: [1] now (unix seconds, the gateway's clock), [2] max future skew (seconds), [3] '1' when writes
 *       may have been lost whatever the run id says (nonces may have been evicted), [4] '1' at the
 *       process's start-up check.
 * Reply: {epoch, 'new' | 'kept' | 'bumped', run id}.
 *
 * Neither record present at start-up: a new deployment, whose epoch starts `skew` in the past so
 * that its first requests (signed after the start) are accepted. (It may also be a Redis that lost
 * everything before this process started; then the key records went with the nonces and a pre-loss
 * request fails as invalid_key.) Found empty on a reconnect or a periodic check, the store lost
 * everything while we ran: the epoch is now. Otherwise the epoch only ever moves forward (`max`), so
 * two gateways checking at once, with clocks a little apart, can both bump but neither lowers it.
 */
export const START_EPOCH = `
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not run_id then return redis.error_reply('INFO server has no run_id') end
local now = tonumber(ARGV[1])
local stored = redis.call('GET', KEYS[1])
local recorded = redis.call('GET', KEYS[2])
if not stored and not recorded and ARGV[4] == '1' then
  local epoch = now - tonumber(ARGV[2])
  redis.call('SET', KEYS[1], epoch)
  redis.call('SET', KEYS[2], run_id)
  return {epoch, '${EPOCH_OUTCOME.new}', run_id}
end
local epoch = tonumber(stored) or 0
if stored and recorded == run_id and ARGV[3] ~= '1' then return {epoch, '${EPOCH_OUTCOME.kept}', run_id} end
if now > epoch then
  epoch = now
  redis.call('SET', KEYS[1], epoch)
end
redis.call('SET', KEYS[2], run_id)
return {epoch, '${EPOCH_OUTCOME.bumped}', run_id}
`

interface SafetyCommands {
  mecharimStartEpoch(epochKey: string, runIdKey: string, nowSeconds: string, skew: string, lostWrites: string, startUp: string): Promise<[number, string, string]>
}

type State =
  | { kind: 'unverified' }
  | { kind: 'safe' }
  | { kind: 'unsafe'; error: ReplayCacheUnsafeError }

export interface RedisReplaySafetyOptions {
  epochKey: string
  runIdKey: string
  maxFutureSkewSeconds: number
  /** Period of the background re-check. Default 10 s. */
  intervalMs?: number
  /** The gateway's clock (unix ms). */
  now?: () => number
  /** Told when a check finds the Redis unsafe, or moves the epoch. For logs. */
  onChange?: (event: { kind: 'unsafe'; message: string } | { kind: 'epoch_bumped'; epoch: number; runId: string }) => void
}

export class RedisReplaySafety {
  readonly #redis: Redis & SafetyCommands
  readonly #options: Required<Omit<RedisReplaySafetyOptions, 'onChange'>> & Pick<RedisReplaySafetyOptions, 'onChange'>
  #state: State = { kind: 'unverified' }
  /** A bad policy was seen: when it is fixed, evictions may have happened, so the epoch moves. */
  #evictionPossible = false
  /** Bumped on every disconnect: a check that started on an older connection leaves no verdict. */
  #connection = 0
  #queue: Promise<unknown> = Promise.resolve()
  #timer: NodeJS.Timeout | undefined
  #started = false
  #checked = false

  constructor(redis: Redis, options: RedisReplaySafetyOptions) {
    redis.defineCommand('mecharimStartEpoch', { numberOfKeys: 2, lua: START_EPOCH })
    this.#redis = redis as Redis & SafetyCommands
    this.#options = { intervalMs: 10_000, now: Date.now, ...options }
    if (!Number.isFinite(this.#options.intervalMs) || this.#options.intervalMs <= 0) {
      throw new RangeError(`expected intervalMs to be a positive number, got ${this.#options.intervalMs}`)
    }
  }

  assertSafe(): void {
    const state = this.#state
    if (state.kind === 'safe') return
    if (state.kind === 'unsafe') throw state.error
    throw new DependencyUnavailableError('replay_cache', new Error('Redis (re)connected and the replay cache has not finished checking it'))
  }

  /**
   * Runs the checks now and returns the epoch in force. Throws ReplayCacheUnsafeError for a bad
   * policy, DependencyUnavailableError when Redis cannot answer. The first call also starts watching
   * reconnects and the periodic re-check.
   */
  async check(now?: number): Promise<number> {
    this.#watch()
    // One check at a time: a reconnect's check waits for a periodic one in flight, and vice versa.
    const run = this.#queue.then(() => this.#checkOnce(now ?? this.#options.now()))
    this.#queue = run.catch(() => undefined)
    return run
  }

  close(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    if (!this.#started) return
    this.#started = false
    this.#redis.off('ready', this.#onReady)
    this.#redis.off('close', this.#onClose)
  }

  async #checkOnce(nowMs: number): Promise<number> {
    const connection = this.#connection
    const verdict = (state: State): void => {
      if (connection === this.#connection) this.#state = state
    }
    let policy: string
    try {
      policy = await this.#policy()
    } catch (err) {
      if (err instanceof ReplayCacheUnsafeError) {
        this.#evictionPossible = true
        verdict({ kind: 'unsafe', error: err })
        this.#options.onChange?.({ kind: 'unsafe', message: err.message })
      }
      throw err
    }
    if (policy !== 'noeviction') {
      const error = new ReplayCacheUnsafeError(
        `Redis maxmemory-policy is ${policy}: the replay cache needs noeviction, because an evicted nonce lets a captured request be replayed. `
        + 'Fix: run `CONFIG SET maxmemory-policy noeviction` (then `CONFIG REWRITE` to keep it), or set `maxmemory-policy noeviction` in redis.conf '
        + '(on managed Redis that forbids CONFIG, in the service\'s parameter group)',
        `the replay cache's Redis has maxmemory-policy ${policy}; it needs noeviction`,
      )
      this.#evictionPossible = true
      verdict({ kind: 'unsafe', error })
      this.#options.onChange?.({ kind: 'unsafe', message: error.message })
      throw error
    }
    const { epochKey, runIdKey, maxFutureSkewSeconds } = this.#options
    let reply: [number, string, string]
    try {
      reply = await this.#redis.mecharimStartEpoch(
        epochKey, runIdKey, String(Math.floor(nowMs / 1000)), String(maxFutureSkewSeconds), this.#evictionPossible ? '1' : '0', this.#checked ? '0' : '1',
      )
    } catch (err) {
      throw new DependencyUnavailableError('replay_cache', err)
    }
    const [epoch, outcome, runId] = reply
    if (!Number.isSafeInteger(epoch)) throw new DependencyUnavailableError('replay_cache', new Error(`unexpected epoch reply ${JSON.stringify(reply)}`))
    this.#evictionPossible = false
    this.#checked = true
    verdict({ kind: 'safe' })
    if (outcome === EPOCH_OUTCOME.bumped) this.#options.onChange?.({ kind: 'epoch_bumped', epoch, runId })
    return epoch
  }

  /** CONFIG GET, else INFO memory (CONFIG is often disabled on managed Redis; INFO is not). */
  async #policy(): Promise<string> {
    let configError: string
    try {
      const reply = await this.#redis.config('GET', 'maxmemory-policy') as unknown
      if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1]
      configError = `unexpected reply ${JSON.stringify(reply)}`
    } catch (err) {
      if (this.#redis.status !== 'ready') throw new DependencyUnavailableError('replay_cache', err)
      configError = err instanceof Error ? err.message : String(err)
    }
    let info: string
    try {
      info = await this.#redis.info('memory')
    } catch (err) {
      if (this.#redis.status !== 'ready') throw new DependencyUnavailableError('replay_cache', err)
      info = ''
    }
    const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1]
    if (policy !== undefined) return policy
    throw new ReplayCacheUnsafeError(
      `cannot read Redis maxmemory-policy (CONFIG GET: ${configError}; INFO memory has no maxmemory_policy): the replay cache needs noeviction and will not run without knowing. `
      + 'Allow CONFIG GET or INFO for the service\'s Redis user',
      'the replay cache cannot read its Redis maxmemory-policy',
    )
  }

  #watch(): void {
    if (this.#started) return
    this.#started = true
    this.#redis.on('ready', this.#onReady)
    this.#redis.on('close', this.#onClose)
    this.#timer = setInterval(() => {
      if (this.#redis.status === 'ready') this.check().catch(() => undefined)
    }, this.#options.intervalMs)
    this.#timer.unref()
  }

  readonly #onClose = (): void => {
    this.#connection++
    if (this.#state.kind === 'safe') this.#state = { kind: 'unverified' }
  }

  readonly #onReady = (): void => {
    this.check().catch(() => undefined)
  }
}
