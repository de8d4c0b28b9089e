import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closedPort } from '../cli/helpers.js'
import { spawnService, type ServiceProcess } from '../helpers/process.js'
import { scriptOf, shellBlocks } from './blocks.js'

/**
 * The README as a tested script: its ```sh blocks, in order, run by one bash process against a
 * freshly started server (dist/main.js, as `npm start` runs it, in development mode with no
 * configuration), in a temporary directory that stands in for the checkout. What the skipped
 * quick-start blocks do is done here instead: the server is started with ./data as its data
 * directory, `mecharim` is put on PATH (what `npm link` does), and node_modules/mecharim points at
 * the checkout (what the checkout's own package name gives the SDK snippets). The README's
 * http://127.0.0.1:8080 is replaced by the test server's address; nothing else is changed.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const README_URL = 'http://127.0.0.1:8080'
const SCRIPT_TIMEOUT_MS = 90_000

interface Run { code: number | null; stdout: string; stderr: string }

function runBash(script: string, cwd: string, env: Record<string, string>): Promise<Run> {
  const file = join(cwd, 'readme.sh')
  writeFileSync(file, script)
  const child = spawn('bash', [file], { cwd, env })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8') })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
  const timer = setTimeout(() => child.kill('SIGKILL'), SCRIPT_TIMEOUT_MS)
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer)
    resolve({ code, stdout, stderr })
  }))
}

function explain(run: Run): string {
  return `exit ${run.code}\n--- stderr (last 40 lines)\n${run.stderr.split('\n').slice(-40).join('\n')}\n--- stdout (last 20 lines)\n${run.stdout.split('\n').slice(-20).join('\n')}`
}

describe('the README', () => {
  let cwd: string
  let svc: ServiceProcess | undefined
  beforeAll(() => { cwd = mkdtempSync(join(tmpdir(), 'mecharim-readme-')) })
  afterAll(async () => {
    if (svc !== undefined && svc.child.exitCode === null) {
      svc.child.kill('SIGTERM')
      await svc.exited
    }
    rmSync(cwd, { recursive: true, force: true })
  })

  it('runs as written, from the quick start to receiving over the WebSocket', async () => {
    const blocks = shellBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
    expect(blocks.length).toBeGreaterThanOrEqual(5)
    // The gateway checks a signature's @authority against its public URL: listen where that URL says.
    const port = await closedPort()
    svc = await spawnService({ PORT: String(port), MECHA_DATA_DIR: join(cwd, 'data') }, cwd)
    const bin = join(cwd, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'mecharim'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'dist/cli/main.js')}" "$@"\n`)
    chmodSync(join(bin, 'mecharim'), 0o755)
    mkdirSync(join(cwd, 'node_modules'))
    symlinkSync(ROOT, join(cwd, 'node_modules', 'mecharim'), 'dir')
    mkdirSync(join(cwd, 'tmp'))

    const script = scriptOf(blocks).replaceAll(README_URL, svc.url)
    const run = await runBash(script, cwd, { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: cwd, TMPDIR: join(cwd, 'tmp') })
    expect(run.code, explain(run)).toBe(0)
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('::: README script completed')

    // Each credential kind delivered a message; both receive modes of the CLI and the SDK's WebSocket got them.
    const delivered = run.stdout.split('\n').filter((line) => line.startsWith('{"id":"msg_') && line.includes('"delivery_count"')).map((line) => JSON.parse(line) as { from: string; payload: { task: string } })
    expect(delivered.map((m) => m.from)).toEqual(['planner', 'planner', 'planner'])
    expect(delivered.map((m) => m.payload.task).sort()).toEqual(['build', 'deploy', 'test'])
    expect(run.stdout).toContain('planner task.request {"task":"release"}')
    // Nothing the walk-through wrote landed in the stand-in checkout, besides the server's own ./data.
    expect(readdirSync(cwd).sort()).toEqual(['bin', 'data', 'node_modules', 'readme.sh', 'tmp'])
  }, SCRIPT_TIMEOUT_MS + 30_000)
})

describe('the README script runner', () => {
  it.each([
    ['a failing command', 'true\nfalse\necho unreachable'],
    ['a failing command in a pipeline', 'false | cat\necho unreachable'],
    ['an unset variable', 'echo "$NO_SUCH_VARIABLE"\necho unreachable'],
  ])('stops at %s and names the block', async (_what, code) => {
    const cwd = mkdtempSync(join(tmpdir(), 'mecharim-readme-runner-'))
    try {
      const run = await runBash(scriptOf([{ line: 1, code: 'echo first' }, { line: 7, code }]), cwd, { PATH: process.env.PATH ?? '' })
      expect(run.code).not.toBe(0)
      expect(run.stdout).toBe('first\n')
      expect(run.stderr).toContain('::: README.md line 7')
      expect(run.stderr).not.toContain('completed')
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  })
})

