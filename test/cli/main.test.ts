import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closedPort, run, startTestControlPlane, type TestControlPlane } from './helpers.js'

let cp: TestControlPlane
let dir: string
beforeAll(async () => {
  cp = await startTestControlPlane()
  dir = mkdtempSync(join(tmpdir(), 'mecharim-cli-token-'))
})
afterAll(async () => {
  await cp.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('help', () => {
  it.each([['help'], ['--help'], ['-h']])('`mecharim %s` prints the usage on stdout', async (word) => {
    const result = await run([word], {})
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toMatch(/^Usage: mecharim <command> \[options\]/)
    expect(result.stdout).toContain('visible to\nother users (ps, /proc)')
  })

  it.each([
    [['mechas', 'add', '--help'], 'Usage: mecharim mechas add <id>'],
    [['keys', 'issue', '-h'], 'Usage: mecharim keys issue <mecha>'],
    [['help', 'keys', 'rotate'], 'Usage: mecharim keys rotate <key id>'],
    [['keys', '--help'], 'Usage: mecharim keys <issue|list|show|update|revoke|rotate>'],
    [['serve', '--help'], 'Usage: mecharim serve'],
  ])('%j prints that command\'s usage', async (argv, heading) => {
    const result = await run(argv, {})
    expect(result.code).toBe(0)
    expect(result.stdout.startsWith(heading)).toBe(true)
  })
})

describe('command line mistakes exit 2 with the error and usage on stderr', () => {
  it.each([
    [[], 'error: missing command', 'Usage: mecharim <command>'],
    [['frobnicate'], 'error: unknown command "frobnicate"', 'Usage: mecharim <command>'],
    [['constructor'], 'error: unknown command "constructor"', 'Usage: mecharim <command>'],
    [['--json', 'mechas', 'list'], 'error: unknown command "--json" (options go after the command)', 'Usage: mecharim <command>'],
    [['keys'], 'error: missing keys command', 'Usage: mecharim keys <issue'],
    [['keys', 'delete'], 'error: unknown command "keys delete"', 'Usage: mecharim keys <issue'],
    [['mechas', 'list', '--bogus'], 'error: unknown option --bogus', 'Usage: mecharim mechas list'],
    [['mechas', 'show', 'a', 'b'], 'error: unexpected argument "b"', 'Usage: mecharim mechas show'],
    [['keys', 'issue', 'alpha', '--label'], "error: Option '--label <value>' argument missing", 'Usage: mecharim keys issue'],
    [['help', 'nothing'], 'error: no help for "nothing"', 'Usage: mecharim <command>'],
  ])('%j', async (argv, message, usage) => {
    const result = await run(argv, cp.env)
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.startsWith(`${message}\n\n${usage}`)).toBe(true)
  })

  it.each([['--token', 'abc'], ['--token=abc'], ['--operator-token', 'abc']])('refuses the token as a flag (%s) without echoing it', async (...flag) => {
    const result = await run(['mechas', 'list', ...flag], cp.env)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('error: the operator token is not accepted as a flag (command lines are visible to other users in ps)')
    expect(result.stderr).not.toContain('abc')
  })
})

describe('connection', () => {
  it('without a token it says how to give one, and exits 1', async () => {
    const result = await run(['mechas', 'list'], { MECHA_URL: cp.url })
    expect(result).toMatchObject({ code: 1, stdout: '' })
    expect(result.stderr).toBe('error: no operator token: set MECHA_OPERATOR_TOKEN or pass --token-file PATH (never as a flag value: command lines are visible in ps)\n')
  })

  it('reads the token from --token-file, and --url overrides MECHA_URL', async () => {
    const file = join(dir, 'token')
    writeFileSync(file, `${cp.token}\n`)
    const result = await run(['mechas', 'list', '--url', cp.url, '--token-file', file], { MECHA_URL: 'http://127.0.0.1:9' })
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).not.toContain(cp.token)
  })

  it('an unreadable token file is named, its content never shown', async () => {
    const result = await run(['mechas', 'list', '--token-file', join(dir, 'missing')], { MECHA_URL: cp.url })
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`error: cannot read the token file ${join(dir, 'missing')} (ENOENT)\n`)
  })

  it('a token that cannot be an HTTP header value is refused before fetch could quote it', async () => {
    const env = { MECHA_URL: cp.url, MECHA_OPERATOR_TOKEN: 'first-half second-half-of-a-secret' }
    const result = await run(['mechas', 'list'], env)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('contains spaces or characters not allowed in an HTTP header')
    expect(result.stderr).not.toContain('second-half')
  })

  it('a wrong token is reported with the server reason', async () => {
    const result = await run(['mechas', 'list'], { MECHA_URL: cp.url, MECHA_OPERATOR_TOKEN: `x${cp.token}` })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: invalid_operator_token: .+ \(request req_\w+\)\n$/)
  })

  it('an unreachable control plane is named in the error, exit 1', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    const result = await run(['mechas', 'show', 'alpha'], { MECHA_URL: url, MECHA_OPERATOR_TOKEN: cp.token })
    expect(result).toMatchObject({ code: 1, stdout: '' })
    expect(result.stderr).toBe(`error: cannot reach the control plane at ${url} (ECONNREFUSED): is it running? Set --url or MECHA_URL\n`)
  })

  it('a malformed --url is a usage error', async () => {
    const result = await run(['mechas', 'list', '--url', 'not a url'], cp.env)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('error: --url / MECHA_URL is not a URL: "not a url"')
  })

  it('warns before sending the token over plain http to another host', async () => {
    const env = { MECHA_URL: 'http://mecharim.invalid', MECHA_OPERATOR_TOKEN: cp.token }
    const refused = (): Promise<Response> => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }) }))
    const result = await run(['mechas', 'list'], env, undefined, { fetch: refused })
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('warning: sending the operator token over plain http to mecharim.invalid; use https\n'
      + 'error: cannot reach the control plane at http://mecharim.invalid (ENOTFOUND): is it running? Set --url or MECHA_URL\n')
  })
})
