import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Env } from '../../src/config/load.js'
import type { CommandIo } from '../../src/cli/command.js'
import { runCli } from '../../src/cli/main.js'
import { admin, testApp, type TestApp } from '../helpers/app.js'
import { capture, closedPort, type CliResult } from './helpers.js'

/** `--dev-sender ID` (issue 13 item 4): the runtime commands as a mecha, without a key, where the gateway allows it. */
describe('runtime commands with --dev-sender', () => {
  let allowed: TestApp
  let strict: TestApp
  let allowedUrl: string
  let strictUrl: string

  beforeAll(async () => {
    const [p1, p2] = [await closedPort(), await closedPort()]
    allowed = await testApp({ PORT: String(p1), LOG_LEVEL: 'warn', MECHA_ALLOW_DEV_SENDER_HEADER: '1' })
    strict = await testApp({ PORT: String(p2), LOG_LEVEL: 'warn' })
    allowedUrl = await allowed.app.listen({ port: p1, host: '127.0.0.1' })
    strictUrl = await strict.app.listen({ port: p2, host: '127.0.0.1' })
    for (const t of [allowed, strict]) {
      for (const id of ['alice', 'bob']) expect((await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })).statusCode).toBe(201)
    }
  })
  afterAll(async () => {
    await allowed?.close()
    await strict?.close()
  })

  async function cli(argv: string[], env: Env): Promise<CliResult> {
    const stdout = capture()
    const stderr = capture()
    const code = await runCli({ argv, env, stdout, stderr } as CommandIo)
    return { code, stdout: stdout.text, stderr: stderr.text }
  }

  it('sends as the mecha and receives as the recipient, with no key', async () => {
    const sent = await cli(['send', 'bob', 'hello', '--payload', '{"n":1}', '--dev-sender', 'alice', '--json'], { MECHA_URL: allowedUrl })
    expect(sent.stderr).toBe('')
    expect(sent.code).toBe(0)
    expect(JSON.parse(sent.stdout)).toMatchObject({ from: 'alice', to: 'bob', kind: 'hello' })
    const me = await cli(['whoami', '--dev-sender', 'bob', '--json'], { MECHA_URL: allowedUrl })
    expect(me.code).toBe(0)
    expect(JSON.parse(me.stdout)).toMatchObject({ mecha: 'bob' })
    const got = await cli(['listen', '--poll', '--ack', '--count', '1', '--dev-sender', 'bob'], { MECHA_URL: allowedUrl })
    expect(got.code).toBe(0)
    expect(JSON.parse(got.stdout.trim())).toMatchObject({ from: 'alice', payload: { n: 1 } })
  })

  it('is refused by a gateway without MECHA_ALLOW_DEV_SENDER_HEADER, with the hint', async () => {
    const sent = await cli(['send', 'bob', 'hello', '--dev-sender', 'alice'], { MECHA_URL: strictUrl })
    expect(sent.code).toBe(1)
    expect(sent.stderr).toContain('dev_sender_refused')
    expect(sent.stderr).toContain('MECHA_ALLOW_DEV_SENDER_HEADER')
  })

  it('does not mix with a key\'s credentials, and wants a mecha id', async () => {
    const mixed = await cli(['whoami', '--dev-sender', 'alice'], { MECHA_URL: allowedUrl, MECHA_TOKEN: 'mk_x' })
    expect(mixed.code).not.toBe(0)
    expect(mixed.stderr).toMatch(/--dev-sender.*MECHA_TOKEN|MECHA_TOKEN.*--dev-sender/)
    const bad = await cli(['whoami', '--dev-sender', 'Not An Id'], { MECHA_URL: allowedUrl })
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain('--dev-sender')
  })
})
