import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Env } from '../../src/config/load.js'
import type { CommandIo, Output } from '../../src/cli/command.js'
import type { RuntimeIo } from '../../src/cli/commands/runtime.js'
import type { WebSocketConstructor } from '../../src/client/index.js'
import { runCli } from '../../src/cli/main.js'
import { admin, testApp, type TestApp } from '../helpers/app.js'
import { capture, closedPort, type CliResult } from './helpers.js'

interface Issued {
  keyId: string
  token: string
  signingSecret?: string
}

let t: TestApp
let url: string
let dir: string

beforeAll(async () => {
  // The gateway checks signatures against its public URL: listen where that URL says.
  const port = await closedPort()
  t = await testApp({ PORT: String(port), LOG_LEVEL: 'warn' })
  url = await t.app.listen({ port, host: '127.0.0.1' })
  expect(t.config.publicAuthority).toBe(`127.0.0.1:${port}`)
  dir = mkdtempSync(join(tmpdir(), 'mecharim-cli-runtime-'))
  for (const id of ['alpha', 'beta', 'gamma', 'delta']) await register(id)
})
afterAll(async () => {
  await t.close()
  rmSync(dir, { recursive: true, force: true })
})

async function register(id: string): Promise<void> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })
  expect(res.statusCode).toBe(201)
}

async function issue(mecha: string, body: object = {}): Promise<Issued> {
  const res = await t.app.inject({ method: 'POST', url: `/v1/mechas/${mecha}/keys`, headers: admin, payload: body })
  expect(res.statusCode).toBe(201)
  const issued = res.json<{ key: { id: string }; token: string; signing_secret?: string }>()
  return { keyId: issued.key.id, token: issued.token, ...(issued.signing_secret !== undefined ? { signingSecret: issued.signing_secret } : {}) }
}

/** Run the CLI in-process; no runtime secret from `env` may appear in either stream. */
async function cli(argv: string[], env: Env, extra: Partial<RuntimeIo> & { stdout?: Output } = {}): Promise<CliResult> {
  const stdout = capture()
  const stderr = capture()
  const io: RuntimeIo = { argv, env: { MECHA_URL: url, ...env }, stdout, stderr, ...extra }
  const code = await runCli(io as CommandIo)
  const out = extra.stdout === undefined ? stdout.text : (extra.stdout as { text?: string }).text ?? ''
  for (const secret of [env.MECHA_TOKEN, env.MECHA_SIGNING_SECRET]) {
    if (secret !== undefined && secret !== '') {
      expect(out).not.toContain(secret)
      expect(stderr.text).not.toContain(secret)
    }
  }
  return { code, stdout: out, stderr: stderr.text }
}

function tokenEnv(issued: Issued): Env {
  return { MECHA_TOKEN: issued.token }
}

function secretFile(name: string, content: string): string {
  const path = join(dir, name)
  writeFileSync(path, `${content}\n`, { mode: 0o600 })
  return path
}

/** A stdout that aborts `controller` once `lines` lines were written. */
function linesThenStop(lines: number, controller: AbortController): Output & { text: string } {
  const out = {
    text: '',
    write(chunk: string) {
      out.text += chunk
      if (out.text.split('\n').length - 1 >= lines) controller.abort()
      return true
    },
  }
  return out
}

async function pending(mecha: string): Promise<string[]> {
  // Read straight from the transport as if an hour had passed: every unacknowledged message is due again.
  const messages = (await t.stores.transport.read(mecha, { limit: 100, visibilityMs: 1, now: Date.now() + 3600_000 })).messages
  return messages.map((m) => m.id)
}

describe('keygen', () => {
  it('writes the private key with mode 0600, prints the public key, and the key signs', async () => {
    const path = join(dir, 'runtime.key')
    const result = await cli(['keygen', '--out', path], {})
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readFileSync(path, 'utf8')).toMatch(/^[A-Za-z0-9_-]{43}\n$/)
    const publicKey = /^public key {2}([A-Za-z0-9_-]{43})$/m.exec(result.stdout)?.[1]
    expect(publicKey).toBeDefined()
    expect(result.stdout).toContain(`mecharim keys issue <mecha> --sign ed25519 --public-key=${publicKey}`)
    expect(result.stdout).not.toContain(readFileSync(path, 'utf8').trim())

    const issued = await issue('alpha', { signature: { algorithms: ['ed25519'], required: true }, public_keys: [publicKey] })
    const whoami = await cli(['whoami', '--json'], { MECHA_KEY_ID: issued.keyId, MECHA_PRIVATE_KEY_FILE: path })
    expect(whoami.code).toBe(0)
    expect(JSON.parse(whoami.stdout)).toMatchObject({ mecha: 'alpha', key_id: issued.keyId, verified_by: { token: false, signature: 'ed25519' } })
  })

  it('refuses to overwrite an existing file', async () => {
    const path = join(dir, 'existing.key')
    expect((await cli(['keygen', '--out', path, '--json'], {})).code).toBe(0)
    const before = readFileSync(path, 'utf8')
    const result = await cli(['keygen', '--out', path], {})
    expect(result).toMatchObject({ code: 1, stdout: '', stderr: `error: ${path} already exists: refusing to overwrite it (choose another --out PATH)\n` })
    expect(readFileSync(path, 'utf8')).toBe(before)
  })

  it('--json prints the public key and the file', async () => {
    const path = join(dir, 'json.key')
    const result = await cli(['keygen', '--out', path, '--json'], {})
    expect(JSON.parse(result.stdout)).toEqual({ public_key: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), private_key_file: path })
  })
})

describe('send', () => {
  it('sends with MECHA_TOKEN and prints the acceptance', async () => {
    const result = await cli(['send', 'beta', 'note', '--payload', '{"x":1}'], tokenEnv(await issue('alpha')))
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toMatch(/^Accepted message msg_\w+ from alpha to beta \(kind note\) at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.\n$/)
  })

  it('signs with --signing-secret-file and MECHA_KEY_ID; --idempotency-key, --reply-to, --payload-file, --json', async () => {
    const issued = await issue('alpha', { signature: { algorithms: ['hmac-sha256'], required: true } })
    const payloadFile = join(dir, 'payload.json')
    writeFileSync(payloadFile, '{"task":"build","n":[1,2]}')
    const env = { MECHA_KEY_ID: issued.keyId }
    const args = ['send', 'beta', 'task.create', '--payload-file', payloadFile, '--idempotency-key', 'cli-1', '--reply-to', 'earlier-1', '--json',
      '--signing-secret-file', secretFile('hmac.secret', issued.signingSecret ?? '')]
    const result = await cli(args, env)
    expect(result.code).toBe(0)
    const accepted = JSON.parse(result.stdout) as { id: string }
    expect(accepted).toMatchObject({ id: expect.stringMatching(/^msg_/), from: 'alpha', to: 'beta', kind: 'task.create' })
    const repeated = await cli(args, env)
    expect(JSON.parse(repeated.stdout), 'the same send again: the first acceptance').toEqual(accepted)
  })

  it('refuses --id, pointing to --idempotency-key', async () => {
    const result = await cli(['send', 'beta', 'note', '--id', 'cli-2'], tokenEnv(await issue('alpha')))
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/--idempotency-key/)
  })

  it('signs with MECHA_SIGNING_SECRET together with the token', async () => {
    const issued = await issue('alpha', { signature: { algorithms: ['hmac-sha256'] } })
    const result = await cli(['whoami', '--json'], { MECHA_TOKEN: issued.token, MECHA_SIGNING_SECRET: issued.signingSecret ?? '' })
    expect(JSON.parse(result.stdout)).toMatchObject({ verified_by: { token: true, signature: 'hmac-sha256' } })
  })

  it('reports a refusal with its reason and request id, exit 1', async () => {
    const issued = await issue('alpha', { permissions: { recipients: ['beta'] } })
    const result = await cli(['send', 'gamma', 'note'], tokenEnv(issued))
    expect(result).toMatchObject({ code: 1, stdout: '' })
    expect(result.stderr).toMatch(/^error: recipient_not_allowed: this key may not send to gamma \(request req_\w+\)\n$/)
  })

  it.each([
    [['--token', 'abcdef']], [['--token=abcdef']], [['--signing-secret', 'abcdef']], [['--private-key=abcdef']],
  ])('refuses a secret as a flag (%j) without echoing it, exit 2', async (flag) => {
    const result = await cli(['send', 'beta', 'note', ...flag], {})
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('error: secrets are not accepted as flag values (command lines are visible to other users in ps)')
    expect(result.stderr).not.toContain('abcdef')
  })

  it('without credentials says how to give them, exit 1', async () => {
    const result = await cli(['send', 'beta', 'note'], {})
    expect(result).toMatchObject({ code: 1, stdout: '' })
    expect(result.stderr).toMatch(/^error: no runtime credentials: set MECHA_TOKEN/)
  })

  it('names the variable of a malformed credential without showing it', async () => {
    const result = await cli(['whoami'], { MECHA_TOKEN: 'mecha_not-a-real-token' })
    expect(result).toMatchObject({ code: 1, stderr: 'error: expected MECHA_TOKEN as a Mecha token (mecha_<key id>_<secret>_<checksum>), got a 22-character string\n' })
  })

  it('a payload that is not JSON is a usage error', async () => {
    const result = await cli(['send', 'beta', 'note', '--payload', '{oops'], tokenEnv(await issue('alpha')))
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^error: --payload is not JSON/)
  })
})

describe('a gateway that is not running', () => {
  it.each([
    ['send', ['send', 'beta', 'note']],
    ['whoami', ['whoami']],
  ])('%s says "is it running? Set --url or MECHA_URL", exit 1', async (_name, argv) => {
    const down = `http://127.0.0.1:${await closedPort()}`
    const result = await cli(argv, { MECHA_URL: down, ...tokenEnv(await issue('alpha')) })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: network_error: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is it running\? Set --url or MECHA_URL\n$/)
  })

  it('listen keeps retrying with the same hint in its warning', async () => {
    const down = `http://127.0.0.1:${await closedPort()}`
    const controller = new AbortController()
    const stderr = { text: '', write(chunk: string) { stderr.text += chunk; controller.abort(); return true } }
    const result = await cli(['listen', '--poll'], { MECHA_URL: down, ...tokenEnv(await issue('alpha')) }, { signal: controller.signal, stderr } as Partial<RuntimeIo>)
    expect(result.code).toBe(0)
    expect(stderr.text).toMatch(/^warning: network_error: cannot reach .+: is it running\? Set --url or MECHA_URL; retrying in 1 s\n$/)
  })
})

describe('whoami', () => {
  it('prints the key as the gateway sees it', async () => {
    const issued = await issue('delta', { signature: { algorithms: ['hmac-sha256'] }, permissions: { kinds: ['task.*'] } })
    const result = await cli(['whoami'], { MECHA_TOKEN: issued.token, MECHA_SIGNING_SECRET: issued.signingSecret ?? '' })
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toMatch(/^mecha +delta$/m)
    expect(result.stdout).toMatch(new RegExp(`^key id +${issued.keyId}$`, 'm'))
    expect(result.stdout).toMatch(/^verified by +token \+ hmac-sha256$/m)
    expect(result.stdout).toMatch(/^kinds +task\.\*$/m)
    expect(result.stdout).toMatch(/^server time +\S+Z \(local clock [+-]\d+ s\)$/m)
  })
})

describe('listen', () => {
  it.each([
    ['--poll', 'listen-poll', ['--poll', '--ack']],
    ['the WebSocket', 'listen-ws', ['--ack']],
  ])('over %s prints each message as a JSON line and acknowledges it', async (_how, mecha, flags) => {
    await register(mecha)
    const sender = tokenEnv(await issue('alpha'))
    const receiver = await issue(mecha, { signature: { algorithms: ['hmac-sha256'] } })
    const ids: string[] = []
    for (const n of [1, 2]) {
      const sent = await cli(['send', mecha, 'note', '--payload', String(n), '--json'], sender)
      ids.push((JSON.parse(sent.stdout) as { id: string }).id)
    }
    const controller = new AbortController()
    const stdout = linesThenStop(2, controller)
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(10_000)])
    const result = await cli(['listen', ...flags], { MECHA_KEY_ID: receiver.keyId, MECHA_SIGNING_SECRET: receiver.signingSecret ?? '' }, { stdout, signal })
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const lines = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { id: string; from: string; payload: unknown })
    expect(lines.map((m) => m.id)).toEqual(ids)
    expect(lines.map((m) => m.payload)).toEqual([1, 2])
    expect(lines[0]).toMatchObject({ from: 'alpha', to: mecha, kind: 'note', delivery_count: 1 })
    expect(await pending(mecha)).toEqual([])
  })

  it('without --ack leaves the messages pending', async () => {
    await register('listen-noack')
    const sent = await cli(['send', 'listen-noack', 'note', '--json'], tokenEnv(await issue('alpha')))
    const id = (JSON.parse(sent.stdout) as { id: string }).id
    const controller = new AbortController()
    const result = await cli(['listen', '--poll', '--limit', '5'], tokenEnv(await issue('listen-noack')), { stdout: linesThenStop(1, controller), signal: controller.signal })
    expect(result.code).toBe(0)
    expect((JSON.parse(result.stdout) as { id: string }).id).toBe(id)
    expect(await pending('listen-noack')).toEqual([id])
  })

  it.each([['--poll'], []])('refused credentials end it with the reason, exit 1 (%j)', async (...flags) => {
    const issued = await issue('gamma', { signature: { algorithms: ['hmac-sha256'] } })
    const env = { MECHA_KEY_ID: issued.keyId, MECHA_SIGNING_SECRET: `${issued.signingSecret ?? ''}x` }
    const result = await cli(['listen', ...flags], env, { signal: AbortSignal.timeout(10_000) })
    expect(result).toMatchObject({ code: 1, stdout: '' })
    expect(result.stderr).toMatch(/^error: bad_signature: .+ \(request req_\w+\)\n$/)
  })

  it.each([['--poll'], []])('the installed command (%j) prints and acknowledges until SIGINT, then exits 0', async (...flags) => {
    const mecha = `listen-process${flags.length}`
    await register(mecha)
    const receiver = await issue(mecha)
    const sent = JSON.parse((await cli(['send', mecha, 'note', '--payload', '"hello"', '--json'], tokenEnv(await issue('alpha')))).stdout) as { id: string }
    const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
    const child = spawn(process.execPath, [main, 'listen', '--ack', ...flags], { env: { PATH: process.env.PATH ?? '', MECHA_URL: url, MECHA_TOKEN: receiver.token } })
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message printed: ${stderr}`)), 10_000)
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8')
        if (stdout.endsWith('\n')) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    expect(JSON.parse(stdout)).toMatchObject({ id: sent.id, payload: 'hello' })
    // The ack follows the print; give it a moment before interrupting.
    for (let i = 0; i < 50 && (await pending(mecha)).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(stderr).toBe('')
    expect(await pending(mecha)).toEqual([])
  })

  it('a key revoked while listening ends it with invalid_key, exit 1, without reconnecting', async () => {
    await register('listen-revoked')
    const receiver = await issue('listen-revoked')
    await cli(['send', 'listen-revoked', 'note', '--json'], tokenEnv(await issue('alpha')))
    const stdout = capture()
    const revokeOnFirstLine = {
      write(chunk: string) {
        if (stdout.text === '') void t.app.inject({ method: 'POST', url: `/v1/keys/${receiver.keyId}/revoke`, headers: admin })
        return stdout.write(chunk)
      },
    }
    const result = await cli(['listen'], tokenEnv(receiver), { stdout: revokeOnFirstLine, signal: AbortSignal.timeout(15_000) })
    expect(result.code).toBe(1)
    expect(stdout.text.trimEnd().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/^error: invalid_key: .+\n$/)
  })

  it.each([
    ['--poll', 'listen-count-poll', ['--poll']],
    ['the WebSocket', 'listen-count-ws', []],
  ])('over %s, --count N prints and acknowledges N messages, then exits 0 by itself', async (_how, mecha, flags) => {
    await register(mecha)
    const sender = tokenEnv(await issue('alpha'))
    const ids: string[] = []
    for (const n of [1, 2, 3]) ids.push((JSON.parse((await cli(['send', mecha, 'note', '--payload', String(n), '--json'], sender)).stdout) as { id: string }).id)
    const result = await cli(['listen', ...flags, '--ack', '--count', '2'], tokenEnv(await issue(mecha)), { signal: AbortSignal.timeout(10_000) })
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(ids.slice(0, 2))
    expect(await pending(mecha)).toEqual(ids.slice(2))
  })

  it('--count 0 is a usage error', async () => {
    const result = await cli(['listen', '--count', '0'], tokenEnv(await issue('gamma')))
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^error: --count expects at least 1/)
  })

  it('--limit without --poll is a usage error', async () => {
    const result = await cli(['listen', '--limit', '5'], tokenEnv(await issue('gamma')))
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^error: --limit applies to --poll only\n\nUsage: mecharim listen/)
  })

  it('help lists the runtime commands and their credentials', async () => {
    const main = await cli(['help'], {})
    for (const word of ['keygen', 'send <to> <kind>', 'listen', 'whoami']) expect(main.stdout).toContain(word)
    const send = await cli(['help', 'send'], {})
    expect(send.stdout.startsWith('Usage: mecharim send <to> <kind> [options]')).toBe(true)
    expect(send.stdout).toContain('MECHA_PRIVATE_KEY_FILE')
  })
})

describe('listen across the maximum connection age (MECHA_WS_MAX_AGE_SECONDS=1)', () => {
  let aged: TestApp
  let agedUrl: string
  beforeAll(async () => {
    const port = await closedPort()
    aged = await testApp({ PORT: String(port), LOG_LEVEL: 'warn', MECHA_WS_MAX_AGE_SECONDS: '1' })
    agedUrl = await aged.app.listen({ port, host: '127.0.0.1' })
    for (const id of ['aged-sender', 'aged-listener']) {
      expect((await aged.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })).statusCode).toBe(201)
    }
  })
  afterAll(async () => {
    await aged.close()
  })

  async function agedKey(mecha: string, body: object = {}): Promise<Issued> {
    const res = await aged.app.inject({ method: 'POST', url: `/v1/mechas/${mecha}/keys`, headers: admin, payload: body })
    const issued = res.json<{ key: { id: string }; token: string; signing_secret?: string }>()
    return { keyId: issued.key.id, token: issued.token, ...(issued.signing_secret !== undefined ? { signingSecret: issued.signing_secret } : {}) }
  }

  it('keeps printing (and acknowledging) across reconnects, silently', async () => {
    const sender = await agedKey('aged-sender')
    const receiver = await agedKey('aged-listener', { signature: { algorithms: ['hmac-sha256'], required: true } })
    const send = async (n: number): Promise<string> => {
      const result = await cli(['send', 'aged-listener', 'note', '--payload', String(n), '--json'], { MECHA_URL: agedUrl, ...tokenEnv(sender) })
      return (JSON.parse(result.stdout) as { id: string }).id
    }
    // The real ws client, counting the sockets listen opens: one more is one more reconnect.
    const sockets: WebSocket[] = []
    let socketOpened: (() => void) | undefined
    class CountingWebSocket extends WebSocket {
      constructor(address: string, options: { headers: Record<string, string> }) {
        super(address, options)
        sockets.push(this)
        socketOpened?.()
      }
    }
    const socketNumber = (n: number): Promise<void> => new Promise<void>((resolve) => {
      socketOpened = () => { if (sockets.length >= n) resolve() }
      socketOpened()
    })

    const ids = [await send(1)]
    const controller = new AbortController()
    const stdout = linesThenStop(3, controller)
    const sending = (async () => {
      for (const n of [2, 3]) {
        await socketNumber(n)
        ids.push(await send(n))
      }
    })()
    const result = await cli(['listen', '--ack'], { MECHA_URL: agedUrl, MECHA_KEY_ID: receiver.keyId, MECHA_SIGNING_SECRET: receiver.signingSecret ?? '' },
      { stdout, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(20_000)]), WebSocket: CountingWebSocket as unknown as WebSocketConstructor })
    await sending
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(ids)
    expect(sockets.length).toBeGreaterThanOrEqual(3)
    const { messages: left } = await aged.stores.transport.read('aged-listener', { limit: 100, visibilityMs: 1, now: Date.now() + 3600_000 })
    expect(left).toEqual([])
  }, 40_000)
})
