import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Env } from '../../src/config/load.js'
import type { CommandIo } from '../../src/cli/command.js'
import { runCli } from '../../src/cli/main.js'
import { MechaClient, type Message } from '../../src/client/index.js'
import { OPERATORS, admin, testApp, type TestApp } from '../helpers/app.js'
import { capture, closedPort, type CliResult } from './helpers.js'

/**
 * `mecharim inbox nack|extend|reject|dead|redrive|purge`, `send --ttl/--deliver-after/--no-receipts`,
 * `mechas update --max-deliveries/--backoff/--visibility/--dead-letter-ttl` and `mechas dead-letters`
 * against a real gateway (issue 14). Outcomes are polled, never timed.
 */

let t: TestApp
let url: string
let n = 0
const POLL_BOUND_MS = 15_000

beforeAll(async () => {
  const port = await closedPort()
  t = await testApp({ PORT: String(port), LOG_LEVEL: 'warn' })
  url = await t.app.listen({ port, host: '127.0.0.1' })
})
afterAll(async () => {
  await t.close()
})

async function register(id: string): Promise<void> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })
  expect(res.statusCode, res.body).toBe(201)
}

async function issue(mecha: string): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: `/v1/mechas/${mecha}/keys`, headers: admin, payload: {} })
  expect(res.statusCode).toBe(201)
  return res.json<{ token: string }>().token
}

async function cli(argv: string[], env: Env): Promise<CliResult> {
  const stdout = capture()
  const stderr = capture()
  const code = await runCli({ argv, env: { MECHA_URL: url, ...env }, stdout, stderr } as CommandIo)
  for (const secret of [env.MECHA_TOKEN, env.MECHA_OPERATOR_TOKEN]) {
    if (secret !== undefined) {
      expect(stdout.text).not.toContain(secret)
      expect(stderr.text).not.toContain(secret)
    }
  }
  return { code, stdout: stdout.text, stderr: stderr.text }
}

const operator: Env = { MECHA_OPERATOR_TOKEN: OPERATORS.admin }

interface Pair {
  senderId: string
  receiverId: string
  senderEnv: Env
  receiverEnv: Env
  sender: MechaClient
  receiver: MechaClient
}

async function pair(delivery: Record<string, unknown> = { max_deliveries: 5, visibility_seconds: 600 }): Promise<Pair> {
  n += 1
  const senderId = `cli-lc-send-${n}`
  const receiverId = `cli-lc-recv-${n}`
  await register(senderId)
  await register(receiverId)
  const res = await t.app.inject({ method: 'PATCH', url: `/v1/mechas/${receiverId}`, headers: admin, payload: { delivery } })
  expect(res.statusCode, res.body).toBe(200)
  const senderToken = await issue(senderId)
  const receiverToken = await issue(receiverId)
  return {
    senderId, receiverId, senderEnv: { MECHA_TOKEN: senderToken }, receiverEnv: { MECHA_TOKEN: receiverToken },
    sender: new MechaClient({ url, token: senderToken }), receiver: new MechaClient({ url, token: receiverToken }),
  }
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const bound = Date.now() + POLL_BOUND_MS
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > bound) throw new Error(`gave up polling: last value ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Send one message from the pair's sender and have the recipient read it (delivered, unacknowledged). */
async function delivered(p: Pair, extra: Record<string, unknown> = {}): Promise<Message> {
  const accepted = await p.sender.send({ to: p.receiverId, kind: 'task.cli', payload: { n }, ...extra })
  const messages = await until(() => p.receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === accepted.id))
  const found = messages.find((x) => x.id === accepted.id)
  if (found === undefined) throw new Error('unreachable')
  return found
}

describe('mecharim inbox', () => {
  it('nack --delay 0 makes a delivered message visible again', async () => {
    const p = await pair()
    const message = await delivered(p)
    const result = await cli(['inbox', 'nack', message.id, '--delay', '0'], p.receiverEnv)
    expect(result).toEqual({ code: 0, stdout: 'Nacked 1 of 1 message: delivered again.\n', stderr: '' })
    const again = await until(() => p.receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === message.id))
    expect(again.find((x) => x.id === message.id)?.delivery_count).toBe(2)
    expect(await cli(['inbox', 'nack', message.id, 'msg_unknown', '--json'], p.receiverEnv)).toMatchObject({ code: 0, stdout: '{\n  "nacked": 1\n}\n' })
  })

  it('extend --seconds keeps it invisible; reject --reason dead-letters it; dead lists it; redrive and purge', async () => {
    const p = await pair()
    const message = await delivered(p)
    expect(await cli(['inbox', 'extend', message.id, '--seconds', '600'], p.receiverEnv))
      .toEqual({ code: 0, stdout: 'Extended 1 of 1 message: invisible for 600 s more.\n', stderr: '' })
    expect(await cli(['inbox', 'reject', message.id, '--reason', 'cannot parse'], p.receiverEnv))
      .toEqual({ code: 0, stdout: 'Rejected 1 of 1 message: now a dead letter.\n', stderr: '' })

    const dead = await cli(['inbox', 'dead'], p.receiverEnv)
    expect(dead.code).toBe(0)
    const lines = dead.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+REASON\s+DELIVERIES\s+FROM\s+KIND\s+DEAD-LETTERED\s+EXPIRES\s+DETAIL$/)
    expect(lines[1]).toMatch(new RegExp(`^${message.id}\\s+rejected\\s+1\\s+${p.senderId}\\s+task\\.cli\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+\\S+Z\\s+cannot parse$`))
    const json = JSON.parse((await cli(['inbox', 'dead', '--json', '--limit', '5'], p.receiverEnv)).stdout) as { dead_letters: { message: { id: string }; reason: string }[]; next: null }
    expect(json).toMatchObject({ dead_letters: [{ message: { id: message.id }, reason: 'rejected' }], next: null })

    expect(await cli(['inbox', 'redrive', message.id], p.receiverEnv)).toEqual({ code: 0, stdout: 'Redrove 1 of 1 dead letter: back in the inbox.\n', stderr: '' })
    expect(await cli(['inbox', 'dead'], p.receiverEnv)).toEqual({ code: 0, stdout: 'No dead letters.\n', stderr: '' })
    await until(() => p.receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === message.id))
    await p.receiver.reject([message.id])
    expect(await cli(['inbox', 'purge', message.id], p.receiverEnv)).toEqual({ code: 0, stdout: 'Purged 1 of 1 dead letter.\n', stderr: '' })
    expect(await cli(['inbox', 'purge', message.id], p.receiverEnv)).toEqual({ code: 0, stdout: 'Purged 0 of 1 dead letter.\n', stderr: '' })
  })

  it('dead pages: --limit, and the next page\'s command on stderr', async () => {
    const p = await pair()
    const ids = [(await delivered(p)).id, (await delivered(p)).id]
    await p.receiver.reject(ids)
    const first = await cli(['inbox', 'dead', '--limit', '1'], p.receiverEnv)
    expect(first.code).toBe(0)
    expect(first.stdout.trimEnd().split('\n')).toHaveLength(2)
    expect(first.stderr).toMatch(/^More: mecharim inbox dead --after msg_\w+\n$/)
    const after = /--after (\S+)/.exec(first.stderr)?.[1] ?? ''
    const second = await cli(['inbox', 'dead', '--limit', '1', '--after', after], p.receiverEnv)
    expect(second).toMatchObject({ code: 0, stderr: '' })
    expect(second.stdout.trimEnd().split('\n')).toHaveLength(2)
  })

  it('usage errors exit 2 with the command\'s usage', async () => {
    const env = { MECHA_TOKEN: 'mecha_unused' }
    const cases: [string[], RegExp][] = [
      [['inbox'], /^error: missing inbox command\n\nUsage: mecharim inbox </],
      [['inbox', 'peek'], /^error: unknown command "inbox peek"/],
      [['inbox', 'nack'], /^error: missing <id>\n\nUsage: mecharim inbox nack /],
      [['inbox', 'nack', 'msg_1', '--delay', 'soon'], /^error: --delay expects a whole number, got "soon"/],
      [['inbox', 'extend', 'msg_1'], /^error: --seconds is required\n\nUsage: mecharim inbox extend /],
      [['inbox', 'extend', 'msg_1', '--seconds', '-1'], /^error: /],
      [['inbox', 'reject', 'msg_1', '--because', 'x'], /^error: unknown option --because\n/],
      [['inbox', 'redrive'], /^error: missing <id>/],
      [['inbox', 'purge', 'msg_1', 'msg_1'], /^error: repeated message id "msg_1"/],
      [['inbox', 'dead', 'extra'], /^error: unexpected argument "extra"/],
      [['inbox', 'dead', '--limit', 'x'], /^error: --limit expects a whole number/],
    ]
    for (const [argv, stderr] of cases) {
      const result = await cli(argv, env)
      expect(result.code, argv.join(' ')).toBe(2)
      expect(result.stdout, argv.join(' ')).toBe('')
      expect(result.stderr, argv.join(' ')).toMatch(stderr)
    }
    const help = await cli(['inbox', 'nack', '--help'], env)
    expect(help).toMatchObject({ code: 0, stderr: '' })
    expect(help.stdout).toMatch(/^Usage: mecharim inbox nack <id>\.\.\. \[options\]/)
    expect((await cli(['help', 'inbox'], env)).stdout).toMatch(/inbox dead\s/)
  })

  it('a refusal by the gateway exits 1 with its message', async () => {
    const result = await cli(['inbox', 'dead'], { MECHA_TOKEN: 'mecha_mk0000000000000000000000000_x_y' })
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^error: /)
    expect((await cli(['inbox', 'dead'], {})).stderr).toMatch(/no runtime credentials/)
  })
})

describe('mecharim send --ttl --deliver-after --no-receipts', () => {
  it('sends the fields with the message', async () => {
    const p = await pair()
    const at = Math.floor(Date.now() / 1000) + 1
    const result = await cli(['send', p.receiverId, 'task.cli', '--ttl', '3600', '--deliver-after', String(at), '--no-receipts', '--json'], p.senderEnv)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const { id } = JSON.parse(result.stdout) as { id: string }
    const messages = await until(() => p.receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === id))
    expect(messages.find((x) => x.id === id)).toMatchObject({ ttl_seconds: 3600, deliver_after: at, receipts: false })
  })

  it('--deliver-after takes an RFC 3339 time, and the message waits for it', async () => {
    const p = await pair()
    const at = new Date(Date.now() + 3600_000)
    const result = await cli(['send', p.receiverId, 'task.cli', '--deliver-after', at.toISOString(), '--json'], p.senderEnv)
    expect(result.code).toBe(0)
    expect(await p.receiver.inbox({ wait: 0 })).toEqual([])
  })

  it('refuses malformed values (exit 2)', async () => {
    const env = { MECHA_TOKEN: 'mecha_unused' }
    for (const [argv, stderr] of [
      [['send', 'x', 'k', '--ttl', 'long'], /^error: --ttl expects a whole number, got "long"/],
      [['send', 'x', 'k', '--deliver-after', 'tomorrow'], /^error: --deliver-after expects unix seconds or an RFC 3339 time, got "tomorrow"/],
      [['send', 'x', 'k', '--receipts'], /^error: unknown option --receipts\n/],
    ] as [string[], RegExp][]) {
      const result = await cli(argv, env)
      expect(result.code, argv.join(' ')).toBe(2)
      expect(result.stderr, argv.join(' ')).toMatch(stderr)
    }
  })
})

describe('mecharim mechas update (delivery) and mechas dead-letters', () => {
  it('update sets the delivery policy; show prints it', async () => {
    const id = `cli-lc-policy-${++n}`
    await register(id)
    const result = await cli(['mechas', 'update', id, '--max-deliveries', '3', '--backoff', '5,30,300', '--visibility', '45', '--dead-letter-ttl', '86400'], operator)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/\ndelivery\s+3 deliveries, backoff 5, 30, 300 s, visibility 45 s, dead letters kept 86400 s\n/)
    const json = JSON.parse((await cli(['mechas', 'show', id, '--json'], operator)).stdout) as { mecha: { delivery: unknown } }
    expect(json.mecha.delivery).toEqual({ max_deliveries: 3, backoff_seconds: [5, 30, 300], visibility_seconds: 45, dead_letter_ttl_seconds: 86400 })
    // --backoff "" clears the waits.
    const cleared = JSON.parse((await cli(['mechas', 'update', id, '--backoff', '', '--json'], operator)).stdout) as { mecha: { delivery: { backoff_seconds: number[] } } }
    expect(cleared.mecha.delivery.backoff_seconds).toEqual([])
    for (const [argv, stderr] of [
      [['mechas', 'update', id, '--max-deliveries', 'many'], /^error: --max-deliveries expects a whole number/],
      [['mechas', 'update', id, '--backoff', '5,x'], /^error: --backoff expects comma-separated whole seconds, got "5,x"/],
      [['mechas', 'update', id], /nothing to change: give at least one of .*--max-deliveries/],
    ] as [string[], RegExp][]) {
      const bad = await cli(argv, operator)
      expect(bad.code, argv.join(' ')).toBe(2)
      expect(bad.stderr).toMatch(stderr)
    }
    // Out of range: the server's refusal, exit 1.
    expect((await cli(['mechas', 'update', id, '--max-deliveries', '0'], operator)).code).toBe(1)
  })

  it('dead-letters lists a mecha\'s dead letters; --redrive moves them back', async () => {
    const p = await pair()
    const message = await delivered(p)
    await p.receiver.reject([message.id], { reason: 'nope' })
    const listed = await cli(['mechas', 'dead-letters', p.receiverId], operator)
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toMatch(new RegExp(`^ID\\s+REASON.*\\n${message.id}\\s+rejected\\s+1\\s+${p.senderId}\\s`))
    const json = JSON.parse((await cli(['mechas', 'dead-letters', p.receiverId, '--json'], operator)).stdout) as { dead_letters: { detail: string }[] }
    expect(json.dead_letters).toMatchObject([{ detail: 'nope' }])
    const redriven = await cli(['mechas', 'dead-letters', p.receiverId, '--redrive', message.id, '--redrive', 'msg_other'], operator)
    expect(redriven).toEqual({ code: 0, stdout: `Redrove 1 of 2 dead letters of ${p.receiverId}: back in its inbox.\n`, stderr: '' })
    expect((await cli(['mechas', 'dead-letters', p.receiverId], operator)).stdout).toBe('No dead letters.\n')
    await until(() => p.receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === message.id))
    const missing = await cli(['mechas', 'dead-letters', 'nobody-here'], operator)
    expect(missing.code).toBe(1)
    expect((await cli(['mechas', 'dead-letters'], operator))).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: missing <id>/) })
  })
})
