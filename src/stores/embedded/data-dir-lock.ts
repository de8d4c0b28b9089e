import { lstatSync, mkdirSync, unlinkSync } from 'node:fs'
import { createConnection, createServer, type Server } from 'node:net'
import { join, relative, resolve } from 'node:path'

/**
 * One process per data directory. Two processes on one LMDB environment each keep their own caches
 * and rate-limit counts, so a key revoked through one is still accepted by the other until its cache
 * expires; the embedded mode is a single process by design (use Redis to run several).
 *
 * The lock is a Unix domain socket, `mecharim.lock`, that the owner listens on for as long as it runs.
 * Why this and not the alternatives:
 *
 * - A pid file (O_EXCL) with a liveness check through `process.kill(pid, 0)` races on PID reuse, and in
 *   containers every process is PID 1: a restarted container would see "itself" holding the lock, and
 *   a second container on the same volume would find PID 1 alive and think the lock live or stale at
 *   random.
 * - `proper-lockfile` (mkdir plus an mtime refreshed every few seconds) decides liveness by time: a
 *   lock left by kill -9 blocks a restart until it is declared stale (10 s by default), and an owner
 *   whose event loop stalls longer than that loses its lock while it still runs.
 * - An OS advisory lock (flock/fcntl) would be ideal, but Node has no API for it and a native addon is
 *   a build dependency for one syscall.
 *
 * A listening socket is the kernel's word on liveness: `bind` is atomic (EADDRINUSE when the file
 * exists), `connect` succeeds only while the owner is alive, and when the owner dies, however it dies,
 * the kernel closes its socket, so `connect` is refused and the file left behind is known stale. It
 * works across PID namespaces (two containers sharing a volume on one host) and involves no clock.
 * The owner answers each connection with its pid, so the refusal can name it.
 *
 * What remains: two processes that both find the same stale socket at the same instant could both
 * replace it (the unlink is guarded by an inode check, which narrows the window to microseconds; a
 * restart after a crash is normally one process). A socket path must fit in 107 bytes. Unix only.
 */
export interface DataDirectoryLock {
  /** The socket path. */
  readonly path: string
  release(): Promise<void>
}

export class DataDirectoryInUseError extends Error {
  readonly dataDir: string
  readonly pid: number | undefined

  constructor(dataDir: string, pid: number | undefined) {
    super(`data directory ${dataDir} is in use by process ${pid ?? '(unknown: it did not say)'}; `
      + 'the embedded store allows one process per data directory (stop the other process, or use REDIS_URL to run several)')
    this.name = 'DataDirectoryInUseError'
    this.dataDir = dataDir
    this.pid = pid
  }
}

export const LOCK_FILE = 'mecharim.lock'
/** sun_path is 108 bytes on Linux (104 on macOS), NUL included. */
const MAX_SOCKET_PATH = 103
/** How long a live owner has to say its pid. A stalled owner is still alive: connect succeeded. */
const HOLDER_REPLY_MS = 1000

export async function lockDataDirectory(dataDir: string): Promise<DataDirectoryLock> {
  if (typeof dataDir !== 'string' || dataDir === '') throw new TypeError(`expected a data directory path, got ${JSON.stringify(dataDir)}`)
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const absolute = resolve(dataDir)
  const path = socketPath(absolute)
  // A stale socket is removed in one round and the next binds (or meets the process that bound first).
  for (let round = 0; round < 3; round++) {
    const server = await listen(path)
    if (server !== undefined) {
      return {
        path,
        release: () => new Promise<void>((done) => {
          // libuv unlinks the socket file when the listening handle closes.
          server.close(() => done())
        }),
      }
    }
    const seen = inode(path)
    const holder = await askHolder(path)
    if (holder.alive) throw new DataDirectoryInUseError(absolute, holder.pid)
    // The owner died without closing (kill -9, a crash): its socket file is left behind. Remove it only
    // if it is still the file that refused us, not one a concurrent start has just bound.
    if (seen !== undefined && seen === inode(path)) unlinkSync(path)
  }
  throw new Error(`cannot take the lock ${path}: it keeps changing (several processes starting on ${absolute} at once?)`)
}

function socketPath(absoluteDir: string): string {
  const path = join(absoluteDir, LOCK_FILE)
  if (Buffer.byteLength(path) <= MAX_SOCKET_PATH) return path
  // A relative path is resolved against the working directory by bind/connect alike.
  const short = relative(process.cwd(), path)
  if (Buffer.byteLength(short) <= MAX_SOCKET_PATH) return short
  throw new Error(`MECHA_DATA_DIR ${absoluteDir} is too long for its lock socket (${Buffer.byteLength(path)} bytes, at most ${MAX_SOCKET_PATH}): choose a shorter path or start from a nearer working directory`)
}

/** The listening server, or undefined when the path is taken. */
function listen(path: string): Promise<Server | undefined> {
  return new Promise((resolveListen, reject) => {
    const server = createServer((socket) => {
      socket.on('error', () => undefined)
      socket.end(`${process.pid}\n`)
    })
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolveListen(undefined)
      else reject(new Error(`cannot create the lock ${path}: ${err.message}`, { cause: err }))
    })
    server.listen({ path, exclusive: true }, () => {
      // The lock must not keep a process alive that has nothing else to do.
      server.unref()
      resolveListen(server)
    })
  })
}

function inode(path: string): number | undefined {
  try {
    const stat = lstatSync(path)
    if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket: remove it if no mecharim process uses this data directory`)
    return stat.ino
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Connects to the socket: alive (with the pid it reports) when someone listens, dead when refused. */
function askHolder(path: string): Promise<{ alive: true; pid: number | undefined } | { alive: false }> {
  return new Promise((resolveAsk, reject) => {
    let reply = ''
    let connected = false
    const socket = createConnection({ path })
    const finish = (): void => {
      clearTimeout(timer)
      socket.destroy()
      const pid = /^(\d+)\n/.exec(reply)?.[1]
      resolveAsk({ alive: true, pid: pid === undefined ? undefined : Number(pid) })
    }
    const timer = setTimeout(finish, HOLDER_REPLY_MS)
    socket.on('connect', () => { connected = true })
    socket.on('data', (chunk: Buffer) => { reply += chunk.toString('utf8') })
    socket.on('end', finish)
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      if (connected) return finish()
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') return resolveAsk({ alive: false })
      reject(new Error(`cannot check the lock ${path}: ${err.message}`, { cause: err }))
    })
  })
}
