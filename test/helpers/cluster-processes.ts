import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { answersPing, freePort } from '../../src/dev/local-ports.js'

/**
 * The redis-server children of test/helpers/redis-cluster.ts: started, waited for, stopped, and never
 * left running after the test process ends. The tracking repeats test/helpers/redis-server.ts's, which
 * keeps its own private; one module could serve both.
 */

const READY_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 5_000

export interface NodeProcess {
  readonly port: number
  readonly child: ChildProcess
  /** The last 4000 characters the server wrote, for error messages. */
  output(): string
}

export function onPath(binary: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try {
      accessSync(join(dir, binary), constants.X_OK)
      return true
    } catch {
      // not in this directory
    }
  }
  return false
}

/** `count` free loopback ports, all different (each probe closes before the next, so the kernel may repeat one). */
export async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}

/** Every redis-server this process started and has not yet seen exit. */
const children = new Set<ChildProcess>()
let exitHooksInstalled = false

/** A cluster-enabled redis-server with persistence off, its cluster bus on `busPort` (Redis 7.0+). */
export function spawnClusterNode(port: number, busPort: number, dir: string, args: readonly string[]): NodeProcess {
  installExitHooks()
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'no', '--dir', dir,
    '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort),
    '--appendonly', 'no', '--save', '', '--maxmemory-policy', 'noeviction',
    // A replica's first sync otherwise waits 5 s (Redis 7's default) for more replicas to share it.
    '--repl-diskless-sync-delay', '0',
    ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  child.once('error', () => children.delete(child))
  let output = ''
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-4000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return { port, child, output: () => output }
}

export async function waitForPing(node: NodeProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (node.child.exitCode !== null || node.child.signalCode !== null) {
      throw new Error(`redis-server on port ${node.port} exited before answering PING:\n${node.output()}`)
    }
    if (await answersPing(node.port)) return
    await sleep(25)
  }
  throw new Error(`redis-server on port ${node.port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${node.output()}`)
}

/** Send `signal` and wait for the exit; SIGKILL after 5 s if the process is still there. */
export async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

/** Run a program to its end; its output is in the error when it fails. */
export async function run(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout)
      else reject(new Error(`${file} ${args.join(' ')} failed (${err.message}):\n${stdout}\n${stderr}`))
    })
  })
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** Redis children must not outlive the test process, however it ends. */
function installExitHooks(): void {
  if (exitHooksInstalled) return
  exitHooksInstalled = true
  const killAll = (): void => {
    for (const child of children) child.kill('SIGKILL')
    children.clear()
  }
  process.on('exit', killAll)
  // A forked test worker whose runner died is orphaned, and may linger until its test ends.
  if (process.connected) process.once('disconnect', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll()
      // Re-raise so the default behaviour (exit) still happens when nobody else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    })
  }
}
