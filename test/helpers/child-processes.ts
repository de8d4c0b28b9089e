import type { ChildProcess } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * The children test helpers start (redis-server, standalone or clustered): found on PATH, tracked so
 * they never outlive the test process however it ends, and stopped by the PID the helper started.
 */

const STOP_TIMEOUT_MS = 5_000

/** Every child this process started and has not yet seen exit. */
const children = new Set<ChildProcess>()
let exitHooksInstalled = false

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

/** Kill `child` (SIGKILL) if the test process ends while it runs. */
export function track(child: ChildProcess): void {
  installExitHooks()
  children.add(child)
  child.once('exit', () => children.delete(child))
  child.once('error', () => children.delete(child))
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

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

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
