import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { answersPing, freePort } from '../../src/dev/local-ports.js'
import { onPath, sleep, terminate, track } from './child-processes.js'

export { onPath, sleep, terminate }

/**
 * The redis-server children of test/helpers/redis-cluster.ts: started and waited for; tracked and
 * stopped by test/helpers/child-processes.ts, as test/helpers/redis-server.ts's are.
 */

const READY_TIMEOUT_MS = 10_000

export interface NodeProcess {
  readonly port: number
  readonly child: ChildProcess
  /** The last 4000 characters the server wrote, for error messages. */
  output(): string
}

/** `count` free loopback ports, all different (each probe closes before the next, so the kernel may repeat one). */
export async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}

/** A cluster-enabled redis-server with persistence off, its cluster bus on `busPort` (Redis 7.0+). */
export function spawnClusterNode(port: number, busPort: number, dir: string, args: readonly string[]): NodeProcess {
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'no', '--dir', dir,
    '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort),
    '--appendonly', 'no', '--save', '', '--maxmemory-policy', 'noeviction',
    // A replica's first sync otherwise waits 5 s (Redis 7's default) for more replicas to share it.
    '--repl-diskless-sync-delay', '0',
    ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  track(child)
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

/** Run a program to its end; its output is in the error when it fails. */
export async function run(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout)
      else reject(new Error(`${file} ${args.join(' ')} failed (${err.message}):\n${stdout}\n${stderr}`))
    })
  })
}
