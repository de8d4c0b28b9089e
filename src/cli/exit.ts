import { Worker } from 'node:worker_threads'

/**
 * How long the exit itself may take. pino flushes its buffered log lines synchronously on exit and
 * retries for as long as the pipe stays full (stdout piped to a reader that stopped reading): the
 * main thread is then blocked and no timer of its own can fire.
 */
export const EXIT_DEADLINE_MS = 2000

// Runs on its own thread, so it fires however long the main thread stays blocked. SIGKILL because a
// signal the process handles (SIGTERM) would wait for the blocked thread too.
const WATCHDOG = `
const { workerData } = require('node:worker_threads')
setTimeout(() => process.kill(workerData.pid, 'SIGKILL'), workerData.ms)
`

/**
 * process.exit(code), bounded: if exiting (flushing log output) takes longer than `deadlineMs`, the
 * process is killed instead. The watchdog is started first and waited for, so it runs even if the
 * exit blocks at once.
 */
export async function exitWithin(code: number, deadlineMs = EXIT_DEADLINE_MS): Promise<never> {
  // Under --cpu-prof / --heap-prof no watchdog: the profiler writes the profile on exit (seconds for a
  // long run), and a watchdog thread would write its own profile under the same --cpu-prof-name,
  // replacing the process's (BENCH_PROFILE=1 got a 0.2 s profile).
  if (process.execArgv.some((arg) => arg.startsWith('--cpu-prof') || arg.startsWith('--heap-prof'))) process.exit(code)
  try {
    const watchdog = new Worker(WATCHDOG, { eval: true, workerData: { pid: process.pid, ms: deadlineMs }, stdout: true, stderr: true })
    await new Promise<void>((resolve) => {
      watchdog.once('online', resolve)
      watchdog.once('error', () => resolve())
    })
  } catch {
    // No watchdog (threads unavailable): exit as before.
  }
  process.exit(code)
}
