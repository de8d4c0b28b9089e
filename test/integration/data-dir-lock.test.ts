import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { lockDataDirectory } from '../../src/stores/embedded/data-dir-lock.js'
import { MAIN, spawnService, type ServiceProcess } from '../helpers/process.js'

const cwd = mkdtempSync(join(tmpdir(), 'mecharim-lock-'))
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

/** Runs `node dist/main.js` to its exit; one still running after `ms` is killed and reported as such. */
async function runToExit(env: Record<string, string>, ms = 10_000): Promise<{ code: number | null | 'still running'; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH ?? '', ...env } })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
  child.stdout.resume()
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const timer = setTimeout(() => child.kill('SIGKILL'), ms)
  const code = await exited
  clearTimeout(timer)
  return { code: code === null && child.signalCode === 'SIGKILL' ? 'still running' : code, stderr }
}

describe('one process per data directory (issue 10, item 4)', () => {
  it('a second process on the same data directory exits non-zero naming the first; after kill -9 of the first a new start succeeds', async () => {
    const dataDir = join(cwd, 'shared-data')
    const env = { PORT: '0', LOG_LEVEL: 'warn', MECHA_DATA_DIR: dataDir }
    let first: ServiceProcess | undefined = await spawnService({ ...env, LOG_LEVEL: 'info' }, cwd)
    let third: ServiceProcess | undefined
    try {
      const second = await runToExit(env)
      expect(second.code).toBe(1)
      expect(second.stderr).toContain(`data directory ${dataDir} is in use by process ${first.child.pid}`)
      // The first is unaffected.
      expect((await fetch(`${first.url}/readyz`)).status).toBe(200)

      first.child.kill('SIGKILL')
      await first.exited
      first = undefined
      // The socket file the killed process left behind does not block a restart.
      third = await spawnService({ ...env, LOG_LEVEL: 'info' }, cwd)
      expect((await fetch(`${third.url}/readyz`)).status).toBe(200)
    } finally {
      first?.child.kill('SIGKILL')
      if (third !== undefined) {
        third.child.kill('SIGTERM')
        expect(await third.exited).toBe(0)
      }
    }
    // A clean stop releases the lock too.
    const again = await spawnService({ ...env, LOG_LEVEL: 'info' }, cwd)
    // Listening is logged before the signal handlers are installed: one request lets the start finish.
    expect((await fetch(`${again.url}/readyz`)).status).toBe(200)
    again.child.kill('SIGTERM')
    expect(await again.exited).toBe(0)
  })

  it('different data directories do not block each other', async () => {
    const a = await lockDataDirectory(join(cwd, 'a'))
    const b = await lockDataDirectory(join(cwd, 'b'))
    await expect(lockDataDirectory(join(cwd, 'a'))).rejects.toThrow(`is in use by process ${process.pid}`)
    await a.release()
    await b.release()
    const a2 = await lockDataDirectory(join(cwd, 'a'))
    await a2.release()
  })
})
