import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { freePort } from '../src/dev/local-ports.js'

/**
 * Child processes of the bench: every one is registered here and killed when the bench exits,
 * however it exits (normal end, error, signal, watchdog).
 */
const children = new Set<ChildProcess>()
let hooksInstalled = false

const STOP_TIMEOUT_MS = 10_000
const READY_TIMEOUT_MS = 20_000
const OUTPUT_TAIL_CHARS = 4000

export interface BenchChild {
  readonly label: string
  readonly pid: number
  /** The last few thousand characters of its stdout and stderr. */
  output(): string
  exited(): boolean
  /** Peak resident set size so far (VmHWM), in KiB; undefined once the process is gone. */
  peakRssKiB(): number | undefined
  /** SIGTERM (a gateway drains and, under --cpu-prof, writes its profile), then SIGKILL after a timeout. */
  stop(): Promise<void>
}

export function spawnChild(label: string, command: string, args: readonly string[], env: Record<string, string>): BenchChild {
  installExitHooks()
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  if (child.pid === undefined) throw new Error(`${label}: could not start ${command}`)
  const pid = child.pid
  children.add(child)
  let output = ''
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  let exitedFlag = false
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exitedFlag = true
      children.delete(child)
      resolve()
    })
    child.once('error', (err) => {
      output += `\n${label}: ${err.message}`
      exitedFlag = true
      children.delete(child)
      resolve()
    })
  })
  return {
    label,
    pid,
    output: () => output,
    exited: () => exitedFlag,
    peakRssKiB: () => peakRssKiB(pid),
    async stop() {
      if (exitedFlag) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    },
  }
}

/**
 * CPU time a process has used so far (user + system, all its threads: GC and libuv included), in
 * microseconds, from /proc/<pid>/stat (Linux); undefined when it cannot be read.
 */
export function cpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name (which may contain spaces): utime is the 14th field.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? (ticks * 1e6) / CLOCK_TICKS_PER_SECOND : undefined
  } catch {
    return undefined
  }
}
/** CPU time of several processes together, µs; undefined if any of them cannot be read. */
export function totalCpuMicros(children: readonly BenchChild[]): number | undefined {
  let total = 0
  for (const child of children) {
    const micros = cpuMicros(child.pid)
    if (micros === undefined) return undefined
    total += micros
  }
  return total
}

/** USER_HZ: 100 on every Linux build this runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100

/** VmHWM of a live process, from /proc (Linux). */
export function peakRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}

/** Wait until `url` answers HTTP at all (any status), or fail with the child's output. */
export async function waitForHttp(child: BenchChild, url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exited()) throw new Error(`${child.label} exited before answering ${url}:\n${child.output()}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      return
    } catch {
      await sleep(50)
    }
  }
  throw new Error(`${child.label} did not answer ${url} within ${READY_TIMEOUT_MS} ms:\n${child.output()}`)
}

/** A redis-server on a free loopback port, persistence off (the bench measures the gateway, not the disk). */
export async function startRedis(): Promise<{ child: BenchChild; url: string; version: string }> {
  const port = await freePort()
  const child = spawnChild('redis-server', 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no',
    '--maxmemory-policy', 'noeviction', '--dir', '/tmp',
  ], {})
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (!/Ready to accept connections/.test(child.output())) {
    if (child.exited()) throw new Error(`redis-server exited:\n${child.output()}`)
    if (Date.now() > deadline) throw new Error(`redis-server not ready within ${READY_TIMEOUT_MS} ms:\n${child.output()}`)
    await sleep(25)
  }
  const version = /version=(\d+(?:\.\d+)*)/.exec(child.output())?.[1] ?? 'unknown'
  return { child, url: `redis://127.0.0.1:${port}`, version }
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** SIGKILL every child still running: the last thing the bench does on any exit path. */
export function killAllChildren(): void {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
}

function installExitHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', killAllChildren)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}, stopping every child process`)
      killAllChildren()
      process.exit(130)
    })
  }
}
