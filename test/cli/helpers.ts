import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import type { Env } from '../../src/config/load.js'
import { loadConfig } from '../../src/config/load.js'
import type { Command, CommandIo, Output } from '../../src/cli/command.js'
import { runCli } from '../../src/cli/main.js'
import { startServer } from '../../src/server.js'

export interface TestControlPlane {
  url: string
  token: string
  /** Environment a CLI invocation needs to reach this server. */
  env: Env
  close(): Promise<void>
}

/** A real control plane on a free port, with an embedded store in a fresh directory. */
export async function startTestControlPlane(): Promise<TestControlPlane> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-cli-'))
  const token = `op_${randomBytes(32).toString('base64url')}`
  const server = await startServer(loadConfig({
    PORT: '0',
    MECHA_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [token]: 'cli-test' }),
  }))
  return {
    url: server.url,
    token,
    env: { MECHA_URL: server.url, MECHA_OPERATOR_TOKEN: token },
    async close() {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export interface Captured extends Output {
  text: string
}

export function capture(): Captured {
  const out = { text: '', write(chunk: string) { out.text += chunk; return true } }
  return out
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * Run a command in-process. Whatever the outcome, the operator token from `env` must appear in
 * neither stream.
 */
export async function run(argv: string[], env: Env, command: Command = runCli, extra: Partial<CommandIo> = {}): Promise<CliResult> {
  const stdout = capture()
  const stderr = capture()
  const code = await command({ argv, env, stdout, stderr, ...extra })
  const token = env.MECHA_OPERATOR_TOKEN
  if (token !== undefined && token !== '') {
    expect(stdout.text).not.toContain(token)
    expect(stderr.text).not.toContain(token)
  }
  return { code, stdout: stdout.text, stderr: stderr.text }
}

/** A port nothing listens on (free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}
