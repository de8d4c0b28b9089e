import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { MAIN } from '../helpers/process.js'

/**
 * `npm start` at a terminal (issue 11): the service under a pseudo-terminal, given by util-linux
 * `script`, so that stdout and stderr are both TTYs as they are for a person running it.
 */
const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0
const cwd = mkdtempSync(join(tmpdir(), 'mecharim-tty-'))
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

// eslint-disable-next-line no-control-regex
const plain = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, '').replaceAll('\r', '')

const LISTENING = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/

interface TerminalService {
  child: ChildProcessWithoutNullStreams
  /** The service's pid (the shell `script` starts execs node, so it keeps its pid). */
  pid: number
  url: string
  /** Everything on the terminal so far, colours removed. */
  screen: () => string
  exited: Promise<number | null>
}

let running: TerminalService | undefined
afterEach(() => {
  if (running !== undefined && running.child.exitCode === null) process.kill(running.pid, 'SIGKILL')
  running = undefined
})

async function startAtTerminal(env: Record<string, string>): Promise<TerminalService> {
  const child = spawn('script', ['-qfec', `echo "pid $$"; exec "${process.execPath}" "${MAIN}"`, '/dev/null'], {
    cwd, env: { PATH: process.env.PATH ?? '', SHELL: '/bin/sh', TERM: 'xterm', PORT: '0', MECHA_DATA_DIR: mkdtempSync(join(cwd, 'data-')), ...env },
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8') })
  child.stderr.on('data', (d: Buffer) => { out += d.toString('utf8') })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const screen = (): string => plain(out)
  // Both: JSON lines reach stdout asynchronously, the banner is written to stderr at once.
  const started = (): boolean => /Development operator token[^]*\n {2}mop_\S+\n/.test(screen()) && LISTENING.test(screen())
  for (const stop = Date.now() + 15_000; !started();) {
    if (Date.now() > stop || child.exitCode !== null) throw new Error(`the service did not start:\n${screen()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const pid = Number(/^pid (\d+)$/m.exec(screen())?.[1])
  const url = LISTENING.exec(screen())?.[1] ?? ''
  running = { child, pid, url, screen, exited }
  return running
}

describe.skipIf(!HAS_SCRIPT)('the service at a terminal in development', () => {
  it('logs readable lines, none per request at the default level, and exits 0 on SIGTERM', async () => {
    const svc = await startAtTerminal({})
    for (let i = 0; i < 3; i++) expect((await fetch(`${svc.url}/healthz`)).status).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const lines = svc.screen().split('\n').filter((l) => l.trim() !== '')
    expect(lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([])
    expect(lines.some((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: mecharim listening/.test(l))).toBe(true)
    expect(svc.screen()).not.toContain('request completed')
    expect(svc.screen()).toContain('dev-operator-token')
    process.kill(svc.pid, 'SIGTERM')
    expect(await svc.exited).toBe(0)
    expect(svc.screen()).toMatch(/INFO: shutting down/)
  })

  it('logs JSON lines with MECHA_LOG_FORMAT=json, and requests at debug with LOG_LEVEL=debug', async () => {
    const svc = await startAtTerminal({ MECHA_LOG_FORMAT: 'json', LOG_LEVEL: 'debug' })
    await fetch(`${svc.url}/healthz`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const completed = svc.screen().split('\n').find((l) => l.includes('"msg":"request completed"'))
    expect(JSON.parse(completed ?? '{}')).toMatchObject({ level: 20, res: { statusCode: 200 } })
    process.kill(svc.pid, 'SIGTERM')
    expect(await svc.exited).toBe(0)
  })
})
