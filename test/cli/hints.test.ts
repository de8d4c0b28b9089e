import { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serve } from '../../src/cli/commands/serve.js'
import { formatToken } from '../../src/crypto/token.js'
import { capture, closedPort, run } from './helpers.js'

// Issue 11: the CLI mistakes of a first session, each answered with what to do instead.
const TOKEN = formatToken('mkaaaaaaaaaaaaaaaaaaaaaaaa', 'a'.repeat(52))
let dir: string
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mecharim-cli-hints-')) })
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('MECHA_URL with a path', () => {
  it.each([
    ['an operator command', ['mechas', 'list'], { MECHA_OPERATOR_TOKEN: `op_${'x'.repeat(40)}` }],
    ['a runtime command', ['whoami'], { MECHA_TOKEN: TOKEN }],
  ])('is refused for %s, naming the URL to use instead', async (_name, argv, env) => {
    for (const path of ['/v1', '/v1/messages', '/docs', '/.well-known/mecharim']) {
      const result = await run(argv, { ...env, MECHA_URL: `http://127.0.0.1:8080${path}` })
      expect(result.code, path).not.toBe(0)
      expect(result.stderr, path).toContain(`MECHA_URL is the server's base URL, without a path: got http://127.0.0.1:8080${path}; use http://127.0.0.1:8080`)
    }
  })
})

describe('MECHA_URL with a reverse proxy\'s mount point', () => {
  it('is kept for operator commands, and a route after it is refused naming the mount point', async () => {
    const env = { MECHA_OPERATOR_TOKEN: `op_${'x'.repeat(40)}` }
    const port = await closedPort()
    const mounted = await run(['mechas', 'list'], { ...env, MECHA_URL: `http://127.0.0.1:${port}/mecharim` })
    expect(mounted.stderr).toContain(`cannot reach the control plane at http://127.0.0.1:${port}/mecharim`)
    const route = await run(['mechas', 'list'], { ...env, MECHA_URL: `http://127.0.0.1:${port}/mecharim/v1/mechas` })
    expect(route.stderr).toContain(`got http://127.0.0.1:${port}/mecharim/v1/mechas; use http://127.0.0.1:${port}/mecharim`)
  })
})

describe('a server that is not running', () => {
  it('runtime commands say "is it running?", as the operator commands do', async () => {
    const port = await closedPort()
    const result = await run(['whoami'], { MECHA_URL: `http://127.0.0.1:${port}`, MECHA_TOKEN: TOKEN })
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/ECONNREFUSED.*is it running\? Set --url or MECHA_URL/)
  })
})

describe('mecharim serve on a port already in use', () => {
  let busy: Server
  let port: number
  beforeAll(async () => {
    busy = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    port = (busy.address() as { port: number }).port
  })
  afterAll(async () => { await new Promise<void>((resolve) => busy.close(() => resolve())) })

  it('exits non-zero with a message naming PORT', async () => {
    const stderr = capture()
    const code = await serve({
      argv: [], env: { PORT: String(port), HOST: '127.0.0.1', MECHA_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'silent' },
      stdout: capture(), stderr, signals: new EventEmitter(), envFile: join(dir, 'none.env'),
    })
    expect(code).toBe(1)
    expect(stderr.text).toContain(`mecharim: port ${port} on 127.0.0.1 is already in use (another mecharim still running?): stop that process, or set PORT to a free port`)
  })

  it('names MECHA_METRICS when the metrics listener\'s port is the one in use', async () => {
    const stderr = capture()
    const code = await serve({
      argv: [], env: { PORT: '0', HOST: '127.0.0.1', MECHA_METRICS: `port:${port}`, MECHA_DATA_DIR: join(dir, 'metrics'), LOG_LEVEL: 'silent' },
      stdout: capture(), stderr, signals: new EventEmitter(), envFile: join(dir, 'none.env'),
    })
    expect(code).toBe(1)
    expect(stderr.text).toContain(`mecharim: port ${port} on 127.0.0.1 is already in use (another mecharim still running?): stop that process, or set MECHA_METRICS=port:<n> to a free port`)
  })
})
