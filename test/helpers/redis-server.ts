import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { answersPing, freePort } from '../../src/dev/local-ports.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { createRedisClient, waitForRedis } from '../../src/stores/redis/client.js'
import { onPath, sleep, terminate, track } from './child-processes.js'

/**
 * A real Redis for tests: a `redis-server` child on a free port with persistence off, or the server at
 * REDIS_URL when the binary is not installed (then the process-control methods are unavailable).
 */
export interface RedisHandle {
  url: string
  port: number
  /** True when the handle points at REDIS_URL: stop, kill and restart then throw. */
  external: boolean
  /** The server's working directory (where SAVE writes dump.rdb); undefined when external. */
  dir: string | undefined
  /** SIGTERM, and wait for the process to exit. */
  stop(): Promise<void>
  /** SIGKILL, and wait for the process to exit: a crash. */
  kill(): Promise<void>
  /** SIGSTOP: the server keeps its connections but answers nothing (a hung server). */
  pause(): Promise<void>
  /** SIGCONT after pause(). */
  resume(): Promise<void>
  /** Start again on the same port (stopping first if still running). Data is gone unless started with `persist`. */
  restart(): Promise<void>
}

export class RedisUnavailable extends Error {
  constructor() {
    super('no Redis for tests: install redis-server (on PATH) or set REDIS_URL')
    this.name = 'RedisUnavailable'
  }
}

const READY_TIMEOUT_MS = 10_000

export function redisServerOnPath(): boolean {
  return onPath('redis-server')
}

export function redisAvailable(): boolean {
  return redisServerOnPath() || externalRedisUrl() !== undefined
}

export interface DescribeWithRedisOptions {
  /** The suite stops, kills or restarts Redis, so REDIS_URL is not enough: it needs redis-server. */
  ownServer?: boolean
}

/**
 * `describe`, or a loud skip when there is no Redis. With MECHA_REQUIRE_REDIS=1 (CI) a missing Redis is
 * a failing test instead, so a suite can never pass by silently not running.
 */
export function describeWithRedis(name: string, fn: () => void, options: DescribeWithRedisOptions = {}): void {
  const available = options.ownServer === true ? redisServerOnPath() : redisAvailable()
  if (available) {
    describe(name, fn)
    return
  }
  const needs = options.ownServer === true ? 'redis-server on PATH' : 'redis-server on PATH or REDIS_URL'
  if (process.env.MECHA_REQUIRE_REDIS === '1') {
    describe(name, () => {
      it(`needs ${needs}`, () => {
        throw new Error(`"${name}" needs ${needs}, and MECHA_REQUIRE_REDIS=1 forbids skipping it`)
      })
    })
    return
  }
  console.warn(
    `\n${'!'.repeat(78)}\n!!! SKIPPED: "${name}" needs ${needs} (set MECHA_REQUIRE_REDIS=1 to fail instead)\n${'!'.repeat(78)}\n`,
  )
  describe.skip(name, fn)
}

export interface StartRedisOptions {
  /** Keep data across restart(): AOF with fsync on every write, in the server's own temp dir. */
  persist?: boolean
  /** More redis-server arguments, e.g. ['--maxmemory-policy', 'volatile-lru']. */
  args?: string[]
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisHandle> {
  if (!redisServerOnPath()) {
    const url = externalRedisUrl()
    if (url === undefined) throw new RedisUnavailable()
    return externalHandle(url)
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'mecharim-redis-'))
  const persistence = [...(options.persist === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), ...(options.args ?? [])]
  let child: ChildProcess | undefined = await launch(port, dir, persistence)

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child
    child = undefined
    if (running !== undefined) await terminate(running, signal)
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    external: false,
    dir,
    async stop() {
      await stopWith('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
    async kill() {
      await stopWith('SIGKILL')
    },
    async pause() {
      child?.kill('SIGSTOP')
    },
    async resume() {
      child?.kill('SIGCONT')
    },
    async restart() {
      await stopWith('SIGTERM')
      child = await launch(port, dir, persistence)
    },
  }
}

function externalRedisUrl(): string | undefined {
  const url = process.env.REDIS_URL
  return url === undefined || url === '' ? undefined : url
}

function externalHandle(url: string): RedisHandle {
  const refuse = (what: string) => async (): Promise<void> => {
    throw new Error(`${what}() is not available with external REDIS_URL; use describeWithRedis(..., { ownServer: true })`)
  }
  const port = Number(new URL(url).port || 6379)
  return { url, port, external: true, dir: undefined, stop: refuse('stop'), kill: refuse('kill'), restart: refuse('restart'), pause: refuse('pause'), resume: refuse('resume') }
}

async function launch(port: number, dir: string, persistence: string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--daemonize', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  track(child)
  let output = ''
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-4000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)

  let exited: string | undefined
  child.once('exit', (code, signal) => {
    exited = `exited (code ${code}, signal ${signal})`
  })
  child.once('error', (err) => {
    exited = `failed to start: ${err.message}`
  })

  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`redis-server on port ${port} ${exited} before answering PING:\n${output}`)
    if (await answersPing(port)) return child
    await sleep(25)
  }
  await terminate(child, 'SIGKILL')
  throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output}`)
}

/**
 * A redis-server of the calling suite's own (it may pause or stop it) and one command connection to
 * it, opened before the suite's tests and closed after them. Call inside a describe block.
 */
export function ownRedis(): { readonly server: RedisHandle; readonly client: Redis } {
  let server: RedisHandle | undefined
  let client: Redis | undefined
  beforeAll(async () => {
    server = await startRedis()
    client = createRedisClient(server.url, { onError: () => {} })
    await waitForRedis(client, 5000)
  })
  afterAll(async () => {
    client?.disconnect()
    await server?.stop()
  })
  return {
    get server() { return required(server, 'the redis-server') },
    get client() { return required(client, 'the Redis connection') },
  }
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is used before the suite's beforeAll started it`)
  return value
}
