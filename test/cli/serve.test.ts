import { EventEmitter } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { serve } from '../../src/cli/commands/serve.js'
import { capture, closedPort, run } from './helpers.js'

let dir: string
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mecharim-cli-serve-')) })
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('mecharim serve', () => {
  it('reads .env, prints the generated operator token once, serves, and closes on SIGTERM', async () => {
    const envFile = join(dir, '.env')
    writeFileSync(envFile, `MECHA_DATA_DIR=${join(dir, 'data')}\nLOG_LEVEL=silent\nPORT=1\n`)
    const port = await closedPort()
    const signals = new EventEmitter()
    const stdout = capture()
    const stderr = capture()
    // The process environment wins over .env, as in src/main.ts.
    const exit = serve({ argv: [], env: { PORT: String(port) }, stdout, stderr, signals, envFile })

    await vi.waitFor(() => expect(stderr.text).toContain('Development operator token'), { timeout: 10_000 })
    const token = /^ {2}(mop_\S+)$/m.exec(stderr.text)?.[1]
    expect(token).toBeDefined()
    const env = { MECHA_URL: `http://127.0.0.1:${port}`, MECHA_OPERATOR_TOKEN: token }
    expect(await run(['mechas', 'add', 'served'], env)).toMatchObject({ code: 0 })

    signals.emit('SIGTERM')
    signals.emit('SIGINT')
    expect(await exit).toBe(0)
    expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0)
    expect(stdout.text).toBe('')
    expect((await run(['mechas', 'list'], env)).stderr).toContain('cannot reach the control plane')
  })

  it('keeps the development operator token in MECHA_DATA_DIR/dev-operator-token (0600), the same after a restart', async () => {
    const dataDir = join(dir, 'stable')
    const port = await closedPort()
    const start = async (): Promise<string> => {
      const signals = new EventEmitter()
      const stderr = capture()
      const exit = serve({ argv: [], env: { PORT: String(port), MECHA_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }, stdout: capture(), stderr, signals, envFile: join(dir, 'none.env') })
      await vi.waitFor(() => expect(stderr.text).toContain('Development operator token'), { timeout: 10_000 })
      const token = /^ {2}(mop_\S+)$/m.exec(stderr.text)?.[1] ?? ''
      expect(stderr.text).toContain(join(dataDir, 'dev-operator-token'))
      const env = { MECHA_URL: `http://127.0.0.1:${port}`, MECHA_OPERATOR_TOKEN: token }
      expect(await run(['mechas', 'list'], env)).toMatchObject({ code: 0 })
      signals.emit('SIGTERM')
      expect(await exit).toBe(0)
      return token
    }
    const first = await start()
    const file = join(dataDir, 'dev-operator-token')
    expect(readFileSync(file, 'utf8').trim()).toBe(first)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(await start()).toBe(first)
  })

  it('at a terminal in development, logs readable lines to stderr, none per request, and the token stays in view', async () => {
    const port = await closedPort()
    const signals = new EventEmitter()
    const out = Object.assign(capture(), { isTTY: true })
    const err = Object.assign(capture(), { isTTY: true })
    const exit = serve({ argv: [], env: { PORT: String(port), MECHA_DATA_DIR: join(dir, 'tty'), LOG_LEVEL: 'info' }, stdout: out, stderr: err, signals, envFile: join(dir, 'none.env') })
    await vi.waitFor(() => expect(err.text).toContain('Development operator token'), { timeout: 10_000 })
    const banner = err.text.slice(err.text.indexOf('\nDevelopment operator token'))
    for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
    // Nothing was logged after the banner: it is still the last thing on the terminal.
    expect(err.text.endsWith(banner)).toBe(true)
    signals.emit('SIGTERM')
    expect(await exit).toBe(0)
    const lines = err.text.split('\n').filter((l) => l.trim() !== '')
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([])
    expect(lines.some((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] \S*INFO\S*: \S*mecharim listening/.test(l))).toBe(true)
    expect(err.text).toContain('shutting down')
    expect(out.text).toBe('')
  })

  it('a configuration problem exits 1 naming the variable', async () => {
    const result = await run([], { PORT: 'eighty', MECHA_DATA_DIR: join(dir, 'bad') }, serve)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('mecharim: invalid configuration:\n  - PORT must be an integer from 0 to 65535, got "eighty"')
  })

  it('takes no arguments', async () => {
    const result = await run(['now'], {}, serve)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^error: unexpected argument "now"\n\nUsage: mecharim serve/)
  })
})
