import { Cluster, type Redis } from 'ioredis'
import { layoutOf, type RedisClient } from '../stores/redis/client.js'
import { SLOTS, type RedisKeys } from '../stores/redis/keys.js'
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
 * KEYS: pairs of [replay epoch, run id recorded beside it]: one pair on a standalone Redis. On a
 *       cluster (START_EPOCH_SLOTS) the pairs of every slot the node serves follow ARGV[4] instead.
 * ARGV: [1] now (unix seconds, the gateway's clock), [2] max future skew (seconds), [3] '1' when writes
 *       may have been lost whatever the run id says (nonces may have been evicted), [4] '1' when a
 *       missing pair means a new deployment (the process's start-up check, and on a cluster only when
 *       no slot anywhere has an epoch yet).
 * Reply: {highest epoch, 'new' | 'kept' | 'bumped' (bumped if any pair moved), run id, pairs bumped}.
 *
 * Neither record present at start-up: a new deployment, whose epoch starts `skew` in the past so
 * that its first requests (signed after the start) are accepted. (It may also be a Redis that lost
 * everything before this process started; then the key records went with the nonces and a pre-loss
 * request fails as invalid_key.) Found empty on a reconnect or a periodic check, the store lost
 * everything while we ran: the epoch is now. Otherwise the epoch only ever moves forward (`max`), so
 * two gateways checking at once, with clocks a little apart, can both bump but neither lowers it.
 * On a cluster each slot's pair is checked against the run id of the master serving it: a failover
 * (the replica has its own run id), a restart or a slot moved to another master moves that slot's epoch.
 */
const startEpochBody = (pairs: string, first: number): string => `
local pairs = ${pairs}
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not run_id then return redis.error_reply('INFO server has no run_id') end
local now = tonumber(ARGV[1])
local highest, outcome, bumped = 0, '${EPOCH_OUTCOME.kept}', 0
for i = ${first}, #pairs, 2 do
  local stored = redis.call('GET', pairs[i])
  local recorded = redis.call('GET', pairs[i + 1])
  local epoch
  if not stored and not recorded and ARGV[4] == '1' then
    epoch = now - tonumber(ARGV[2])
    redis.call('SET', pairs[i], epoch)
    redis.call('SET', pairs[i + 1], run_id)
    if outcome == '${EPOCH_OUTCOME.kept}' then outcome = '${EPOCH_OUTCOME.new}' end
  else
    epoch = tonumber(stored) or 0
    if not (stored and recorded == run_id and ARGV[3] ~= '1') then
      if now > epoch then
        epoch = now
        redis.call('SET', pairs[i], epoch)
      end
      redis.call('SET', pairs[i + 1], run_id)
      outcome = '${EPOCH_OUTCOME.bumped}'
      bumped = bumped + 1
    end
  end
  if epoch > highest then highest = epoch end
end
return {highest, outcome, run_id, bumped}
`

export const START_EPOCH = startEpochBody('KEYS', 1)

/**
 * The cluster form: one run per master over the pairs of every slot it serves, passed after the four
 * arguments (a command's declared keys must share a slot; Redis 7's `allow-cross-slot-keys` lets the
 * script reach keys of several slots, each of which must be served by the node it runs on).
 */
export const START_EPOCH_SLOTS = `#!lua flags=allow-cross-slot-keys
${startEpochBody('ARGV', 5)}`

/** ARGV: epoch keys of slots the node serves. Reply: how many exist. Run per master on a cluster. */
export const COUNT_EPOCHS = `#!lua flags=allow-cross-slot-keys,no-writes
local n = 0
for i = 1, #ARGV do n = n + redis.call('EXISTS', ARGV[i]) end
return n
`

type State =
  | { kind: 'unverified' }
  | { kind: 'safe' }
  | { kind: 'unsafe'; error: ReplayCacheUnsafeError }

type EpochReply = [number, string, string, number]

export interface RedisReplaySafetyOptions {
  /** Where the epochs are: `keys.layout` says one (standalone) or one per slot (cluster). */
  keys: RedisKeys
  maxFutureSkewSeconds: number
  /** Period of the background re-check. Default 10 s. */
  intervalMs?: number
  /** The gateway's clock (unix ms). */
  now?: () => number
  /** Told when a check finds the Redis unsafe, or moves the epoch. For logs. */
  onChange?: (event: { kind: 'unsafe'; message: string } | { kind: 'epoch_bumped'; epoch: number; runId: string }) => void
}

export class RedisReplaySafety {
  readonly #redis: RedisClient
  readonly #keys: RedisKeys
  readonly #options: Required<Omit<RedisReplaySafetyOptions, 'onChange' | 'keys'>> & Pick<RedisReplaySafetyOptions, 'onChange'>
  #state: State = { kind: 'unverified' }
  /** A bad policy was seen: when it is fixed, evictions may have happened, so the epoch moves. */
  #evictionPossible = false
  /** Bumped on every disconnect or topology change: a check that started before it leaves no verdict. */
  #connection = 0
  /** Cluster: which master served each slot when the last check passed. */
  #verifiedMasters = ''
  /** Cluster: each master's run_id at the last full check ("host:port" -> run_id). */
  #runIds = new Map<string, string>()
  /** The epoch in force after the last full check (the highest of the slots'). */
  #highest = 0
  #queue: Promise<unknown> = Promise.resolve()
  #timer: NodeJS.Timeout | undefined
  #started = false
  #checked = false

  constructor(redis: RedisClient, options: RedisReplaySafetyOptions) {
    if (options.keys.layout !== layoutOf(redis)) throw new TypeError(`expected ${layoutOf(redis)} keys for this client, got ${options.keys.layout}`)
    this.#redis = redis
    this.#keys = options.keys
    const { keys: _keys, ...rest } = options
    this.#options = { intervalMs: 10_000, now: Date.now, ...rest }
    if (!Number.isFinite(this.#options.intervalMs) || this.#options.intervalMs <= 0) {
      throw new RangeError(`expected intervalMs to be a positive number, got ${this.#options.intervalMs}`)
    }
  }

  assertSafe(): void {
    const state = this.#state
    if (state.kind === 'safe') return
    if (state.kind === 'unsafe') throw state.error
    throw new DependencyUnavailableError('replay_cache', new Error('Redis (re)connected, or its cluster changed, and the replay cache has not finished checking it'))
  }

  /**
   * Runs the checks now and returns the epoch in force (on a cluster the highest of its slots'). Throws
   * ReplayCacheUnsafeError for a bad policy, DependencyUnavailableError when Redis cannot answer. The
   * first call also starts watching reconnects (and a cluster's topology) and the periodic re-check.
   */
  async check(now?: number): Promise<number> {
    return this.#check(now, false)
  }

  /**
   * `light` (the periodic re-check on a cluster): when the slot map and every master's run_id are what
   * the last full check saw, the policies are read again but the per-slot epochs are not (a full check
   * reads two keys per slot, 32 768 per gateway). A changed run_id, slot map or connection runs the
   * full check. (Epoch keys removed under an unchanged run_id, FLUSHALL, need no bump: a claim that
   * finds its slot's epoch missing sets it to now.)
   */
  async #check(now: number | undefined, light: boolean): Promise<number> {
    this.#watch()
    // One check at a time: a reconnect's check waits for a periodic one in flight, and vice versa.
    const run = this.#queue.then(() => this.#checkOnce(now ?? this.#options.now(), light))
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
    if (this.#redis instanceof Cluster) {
      this.#redis.off('-node', this.#onTopology)
      this.#redis.off('+node', this.#onTopology)
      this.#redis.off('refresh', this.#onRefresh)
    }
  }

  async #checkOnce(nowMs: number, light: boolean): Promise<number> {
    const connection = this.#connection
    const verdict = (state: State): void => {
      if (connection === this.#connection) this.#state = state
    }
    const masters = this.#masters()
    const fingerprint = this.#redis instanceof Cluster ? mastersFingerprint(this.#redis) : ''
    let policy: string
    try {
      policy = await this.#policies(masters)
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
    if (light && this.#state.kind === 'safe' && !this.#evictionPossible && fingerprint === this.#verifiedMasters && await this.#sameRunIds(masters)) {
      return this.#highest
    }
    let replies: EpochReply[]
    try {
      replies = await this.#startEpochs(masters, nowMs)
    } catch (err) {
      throw new DependencyUnavailableError('replay_cache', err)
    }
    let highest = 0
    for (const reply of replies) {
      if (!Array.isArray(reply) || !Number.isSafeInteger(reply[0])) throw new DependencyUnavailableError('replay_cache', new Error(`unexpected epoch reply ${JSON.stringify(reply)}`))
      highest = Math.max(highest, reply[0])
    }
    this.#evictionPossible = false
    this.#checked = true
    this.#highest = highest
    if (connection === this.#connection) {
      this.#verifiedMasters = fingerprint
      this.#runIds = new Map(masters.map(({ node }, i) => [nodeKey(node), String(replies[i]?.[2])]))
    }
    verdict({ kind: 'safe' })
    for (const [epoch, outcome, runId] of replies) {
      if (outcome === EPOCH_OUTCOME.bumped) this.#options.onChange?.({ kind: 'epoch_bumped', epoch, runId })
    }
    return highest
  }

  /** Every master still has the run_id the last full check recorded (one INFO server each). */
  async #sameRunIds(masters: { node: Redis }[]): Promise<boolean> {
    if (masters.length !== this.#runIds.size) return false
    try {
      const runIds = await Promise.all(masters.map(async ({ node }) => /run_id:(\w+)/.exec(await node.info('server'))?.[1]))
      return masters.every(({ node }, i) => runIds[i] !== undefined && this.#runIds.get(nodeKey(node)) === runIds[i])
    } catch {
      return false
    }
  }

  /** The connections the checks run on: the client itself, or each master of the cluster with the slots it serves. */
  #masters(): { node: Redis; slots: number[] }[] {
    const redis = this.#redis
    if (!(redis instanceof Cluster)) return [{ node: redis, slots: [] }]
    const bySlotOwner = new Map<string, number[]>()
    redis.slots.forEach((owners, slot) => {
      const master = owners?.[0]
      if (master === undefined) return
      let slots = bySlotOwner.get(master)
      if (slots === undefined) bySlotOwner.set(master, (slots = []))
      slots.push(slot)
    })
    const covered = [...bySlotOwner.values()].reduce((n, slots) => n + slots.length, 0)
    if (covered !== SLOTS) throw new DependencyUnavailableError('replay_cache', new Error(`the cluster's slot map covers ${covered} of ${SLOTS} slots`))
    const masters = redis.nodes('master').flatMap((node) => {
      const slots = bySlotOwner.get(nodeKey(node))
      return slots === undefined ? [] : [{ node, slots }]
    })
    if (masters.reduce((n, m) => n + m.slots.length, 0) !== SLOTS) {
      throw new DependencyUnavailableError('replay_cache', new Error('a master in the slot map has no connection yet'))
    }
    return masters
  }

  async #startEpochs(masters: { node: Redis; slots: number[] }[], nowMs: number): Promise<EpochReply[]> {
    const { maxFutureSkewSeconds } = this.#options
    const args = (startUp: boolean): string[] =>
      [String(Math.floor(nowMs / 1000)), String(maxFutureSkewSeconds), this.#evictionPossible ? '1' : '0', startUp ? '1' : '0']
    if (this.#keys.layout === 'standalone') {
      const only = masters[0] as { node: Redis }
      const reply = await only.node.eval(START_EPOCH, 2, this.#keys.epochFor(''), this.#keys.runIdFor(''), ...args(!this.#checked)) as EpochReply
      return [reply]
    }
    // A new deployment only if no slot anywhere has an epoch: one master that lost its data while no
    // gateway ran is a loss (its slots' epochs start now), not a new cluster.
    let fresh = false
    if (!this.#checked) {
      const counts = await Promise.all(masters.map(({ node, slots }) =>
        node.eval(COUNT_EPOCHS, 0, ...slots.map((slot) => this.#keys.slotEpoch(slot))) as Promise<number>))
      fresh = counts.every((n) => Number(n) === 0)
    }
    return Promise.all(masters.map(({ node, slots }) =>
      node.eval(START_EPOCH_SLOTS, 0, ...args(fresh), ...slots.flatMap((slot) => [this.#keys.slotEpoch(slot), this.#keys.slotRunId(slot)])) as Promise<EpochReply>))
  }

  /** Every master's policy: the first that is not noeviction, else noeviction. */
  async #policies(masters: { node: Redis }[]): Promise<string> {
    const policies = await Promise.all(masters.map(({ node }) => this.#policy(node)))
    return policies.find((policy) => policy !== 'noeviction') ?? 'noeviction'
  }

  /** CONFIG GET, else INFO memory (CONFIG is often disabled on managed Redis; INFO is not). */
  async #policy(node: Redis): Promise<string> {
    let configError: string
    try {
      const reply = await node.config('GET', 'maxmemory-policy') as unknown
      if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1]
      configError = `unexpected reply ${JSON.stringify(reply)}`
    } catch (err) {
      if (node.status !== 'ready') throw new DependencyUnavailableError('replay_cache', err)
      configError = err instanceof Error ? err.message : String(err)
    }
    let info: string
    try {
      info = await node.info('memory')
    } catch (err) {
      if (node.status !== 'ready') throw new DependencyUnavailableError('replay_cache', err)
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
    if (this.#redis instanceof Cluster) {
      // A node that left or joined may be a failover in progress; a slot map with another master for a
      // slot is one done. Until the checks ran on the new topology, claims fail closed.
      this.#redis.on('-node', this.#onTopology)
      this.#redis.on('+node', this.#onTopology)
      this.#redis.on('refresh', this.#onRefresh)
    }
    this.#timer = setInterval(() => {
      if (this.#redis.status === 'ready') this.#check(undefined, this.#keys.layout === 'cluster').catch(() => undefined)
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

  readonly #onTopology = (): void => {
    if (!this.#checked) return
    this.#onClose()
    if (this.#redis.status === 'ready') this.check().catch(() => undefined)
  }

  readonly #onRefresh = (): void => {
    if (!this.#checked || !(this.#redis instanceof Cluster) || mastersFingerprint(this.#redis) === this.#verifiedMasters) return
    this.#onTopology()
  }
}

function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`
}

/** Which master serves each slot, as one comparable string. */
function mastersFingerprint(cluster: Cluster): string {
  let out = ''
  let previous: string | undefined
  cluster.slots.forEach((owners, slot) => {
    const master = owners?.[0]
    if (master !== previous) out += `${slot}=${master ?? '-'};`
    previous = master
  })
  return out
}
