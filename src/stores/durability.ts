import { Cluster, type Redis } from 'ioredis'
import type { RedisClient } from './redis/client.js'
import { DURABILITY_LEVELS, type DurabilityLevel } from '../config/schema.js'

/**
 * What a 202 promises: where an accepted message is when the sender hears "accepted". Found once at
 * start from the store's own settings, compared with MECHA_DURABILITY (the least the operator
 * accepts), and reported as found in the well-known document and /readyz.
 *
 * - `fsync`: on disk before the 202 (Redis `appendfsync always`; LMDB synchronous commit). Survives a
 *   crash of the store's process and of its host.
 * - `everysec`: written before the 202 and flushed to disk within about a second (Redis `appendfsync
 *   everysec`; LMDB overlapping sync flushes within milliseconds). Survives a crash of the store's
 *   process; a host crash or power loss can lose the last second of accepted messages.
 * - `memory`: in memory only (no append-only file, or one the OS flushes when it likes). A restart of
 *   Redis loses what was accepted since its last snapshot, if it takes any.
 */
export interface Durability {
  /** What the store gives, as found (never below `required`). */
  readonly level: DurabilityLevel
  /** MECHA_DURABILITY. */
  readonly required: DurabilityLevel
  readonly store: 'embedded' | 'redis'
  /** The settings found and what a crash can lose, in words an operator can act on. */
  readonly detail: string
}

/** The store does not give the durability MECHA_DURABILITY asks for: the service must not start. */
export class DurabilityRefusedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DurabilityRefusedError'
  }
}

/** Redis persistence as read at start. `appendfsync` is undefined where only INFO could be read. */
export interface RedisPersistence {
  appendonly: boolean
  appendfsync: 'always' | 'everysec' | 'no' | undefined
  /** `config` (CONFIG GET) or `info` (INFO persistence, where CONFIG is disabled: managed Redis). */
  source: 'config' | 'info'
}

const RANK: Readonly<Record<DurabilityLevel, number>> = { memory: 0, everysec: 1, fsync: 2 }

/**
 * CONFIG GET append* (one round trip), else INFO persistence. Throws when neither answers. On a
 * cluster every master is read and the weakest settings are what the service can promise.
 */
export async function readRedisPersistence(redis: RedisClient): Promise<RedisPersistence> {
  if (!(redis instanceof Cluster)) return readNodePersistence(redis)
  const masters = redis.nodes('master')
  if (masters.length === 0) throw new DurabilityRefusedError('no Redis Cluster master is connected: cannot read its persistence')
  const found = await Promise.all(masters.map(readNodePersistence))
  return found.reduce((weakest, next) => (persistenceRank(next) < persistenceRank(weakest) ? next : weakest))
}

/** Weakest first: no AOF, AOF left to the OS, AOF every second (or unknown), AOF fsynced per write. */
function persistenceRank(p: RedisPersistence): number {
  if (!p.appendonly) return 0
  if (p.appendfsync === 'no') return 1
  return p.appendfsync === 'always' ? 3 : 2
}

async function readNodePersistence(redis: Redis): Promise<RedisPersistence> {
  let configError: string
  try {
    const reply = await redis.config('GET', 'append*') as unknown
    if (Array.isArray(reply)) {
      const settings = new Map<string, string>()
      for (let i = 0; i + 1 < reply.length; i += 2) settings.set(String(reply[i]), String(reply[i + 1]))
      const appendonly = settings.get('appendonly')
      const appendfsync = settings.get('appendfsync')
      if (appendonly !== undefined && (appendfsync === 'always' || appendfsync === 'everysec' || appendfsync === 'no')) {
        return { appendonly: appendonly === 'yes', appendfsync, source: 'config' }
      }
    }
    configError = `unexpected reply ${JSON.stringify(reply)}`
  } catch (err) {
    if (redis.status !== 'ready') throw err
    configError = err instanceof Error ? err.message : String(err)
  }
  const info = await redis.info('persistence')
  const aof = /^aof_enabled:(\d)/m.exec(info)?.[1]
  if (aof === undefined) throw new DurabilityRefusedError(`cannot read Redis persistence (CONFIG GET: ${configError}; INFO persistence has no aof_enabled)`)
  return { appendonly: aof === '1', appendfsync: undefined, source: 'info' }
}

/** The durability a Redis with these settings gives, or a refusal when it is below `required`. */
export function redisDurability(required: DurabilityLevel, found: RedisPersistence): Durability {
  checkLevel(required)
  const settings = found.source === 'config'
    ? `appendonly ${found.appendonly ? 'yes' : 'no'}, appendfsync ${found.appendfsync ?? '?'}`
    : `aof_enabled:${found.appendonly ? 1 : 0} (INFO persistence; CONFIG GET is disabled, so appendfsync is unknown)`
  let level: DurabilityLevel
  let detail: string
  if (!found.appendonly) {
    level = 'memory'
    detail = `Redis has no append-only file (${settings}): accepted messages are in memory only, and a Redis restart loses those accepted since its last snapshot, if it takes any.`
  } else if (found.appendfsync === 'always') {
    level = 'fsync'
    detail = `Redis fsyncs its append-only file before answering (${settings}): every 202 is on disk; a crash of Redis or of its host loses no accepted message.`
  } else if (found.appendfsync === 'no') {
    level = 'memory'
    detail = `Redis writes its append-only file but leaves flushing to the OS (${settings}): a Redis crash loses nothing, a host crash or power loss can lose about 30 s of accepted messages.`
  } else {
    level = 'everysec'
    detail = found.appendfsync === undefined
      ? `Redis has an append-only file (${settings}); Redis's default appendfsync everysec is assumed: a Redis crash loses nothing, a host crash or power loss can lose about the last second of accepted messages.`
      : `Redis flushes its append-only file every second (${settings}): a Redis crash loses nothing, a host crash or power loss can lose about the last second of accepted messages.`
  }
  if (RANK[level] < RANK[required]) throw new DurabilityRefusedError(redisRefusal(required, found, settings))
  return { level, required, store: 'redis', detail }
}

function redisRefusal(required: DurabilityLevel, found: RedisPersistence, settings: string): string {
  if (required === 'fsync') {
    const unknown = found.appendonly && found.appendfsync === undefined
      ? ' (CONFIG GET is disabled, so appendfsync always cannot be confirmed; allow CONFIG GET for the service\'s Redis user)'
      : ''
    return `MECHA_DURABILITY=fsync needs every accepted message on disk before its 202, i.e. Redis with appendonly yes and appendfsync always; found ${settings}${unknown}. `
      + 'Configure Redis so, or set MECHA_DURABILITY=everysec (a host crash may lose the last second of accepted messages).'
  }
  return `MECHA_DURABILITY=${required} (the default) needs Redis with an append-only file flushed at least every second (appendonly yes, appendfsync everysec or always); found ${settings}. `
    + 'Configure Redis so, or, if losing accepted messages when Redis restarts is acceptable, set MECHA_DURABILITY=memory.'
}

/**
 * The embedded store: LMDB opened with synchronous commits (overlappingSync off) fsyncs each
 * transaction before its promise resolves; with overlapping sync (lmdb's default on Linux and macOS)
 * the commit resolves first and is flushed a moment later. `synchronousCommit` is what the opened
 * environment reports, not what was asked for.
 */
export function embeddedDurability(required: DurabilityLevel, synchronousCommit: boolean): Durability {
  checkLevel(required)
  if (synchronousCommit) {
    return { level: 'fsync', required, store: 'embedded', detail: 'LMDB commits synchronously: every 202 is on disk; a crash of the process or of its host loses no accepted message.' }
  }
  if (required === 'fsync') throw new DurabilityRefusedError('MECHA_DURABILITY=fsync needs LMDB synchronous commits, but the data directory\'s environment was opened with overlapping sync')
  return {
    level: 'everysec', required, store: 'embedded',
    detail: 'LMDB commits before the 202 and flushes to disk just after it (overlapping sync): a process crash loses nothing, a host crash or power loss can lose the last few milliseconds of accepted messages. MECHA_DURABILITY=fsync flushes before the 202.',
  }
}

function checkLevel(level: DurabilityLevel): void {
  if (!DURABILITY_LEVELS.includes(level)) throw new RangeError(`expected a durability level (${DURABILITY_LEVELS.join(', ')}), got ${JSON.stringify(level)}`)
}

export interface DurabilityReport {
  level: DurabilityLevel
  required: DurabilityLevel
  store: 'embedded' | 'redis'
  detail: string
}

/** The public form (well-known document, /readyz). */
export function durabilityReport(durability: Durability): DurabilityReport {
  return { level: durability.level, required: durability.required, store: durability.store, detail: durability.detail }
}
