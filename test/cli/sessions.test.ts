import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Env } from '../../src/config/load.js'
import { runCli } from '../../src/cli/main.js'
import { admin, testApp, type TestApp } from '../helpers/app.js'
import { closedPort, run, type CliResult } from './helpers.js'

let t: TestApp
let url: string
const tokens: Record<string, string> = {}

beforeAll(async () => {
  // The gateway checks signatures against its public URL: listen where that URL says.
  const port = await closedPort()
  t = await testApp({ PORT: String(port), LOG_LEVEL: 'warn' })
  url = await t.app.listen({ port, host: '127.0.0.1' })
  for (const id of ['lead', 'ann', 'ben', 'outsider']) {
    expect((await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })).statusCode).toBe(201)
    const issued = await t.app.inject({ method: 'POST', url: `/v1/mechas/${id}/keys`, headers: admin, payload: {} })
    expect(issued.statusCode).toBe(201)
    tokens[id] = issued.json<{ token: string }>().token
  }
  expect((await t.app.inject({ method: 'PUT', url: '/v1/modes/decision.v1', headers: admin, payload: { kinds: ['proposal', 'vote'], version: 1 } })).statusCode).toBe(201)
})
afterAll(async () => { await t.close() })

/** The CLI in-process as `mecha`; its token must appear in neither stream. */
async function as(mecha: string, argv: string[]): Promise<CliResult> {
  const env: Env = { MECHA_URL: url, MECHA_TOKEN: tokens[mecha] ?? '' }
  const result = await run(argv, env, runCli)
  expect(result.stdout).not.toContain(env.MECHA_TOKEN)
  expect(result.stderr).not.toContain(env.MECHA_TOKEN)
  return result
}

interface View { id: string; state: string; initiator: string; participants: string[]; outcome: unknown; reason: string | null }

describe('sessions: command line mistakes exit 2 before any request', () => {
  it.each([
    [['sessions', 'start', '--participant', 'ann', '--ttl', '60'], '--mode M is required', 'sessions start'],
    [['sessions', 'start', '--mode', 'decision.v1', '--ttl', '60'], 'give at least one --participant (the mechas besides you)', 'sessions start'],
    [['sessions', 'start', '--mode', 'decision.v1', '--participant', 'ann'], '--ttl SECONDS is required', 'sessions start'],
    [['sessions', 'start', '--mode', 'decision.v1', '--participant', 'ann', '--ttl', 'soon'], '--ttl expects a whole number, got "soon"', 'sessions start'],
    [['sessions', 'list', '--state', 'shut'], '--state expects one of open, closed, all, got "shut"', 'sessions list'],
    [['sessions', 'show'], 'missing <id>', 'sessions show'],
    [['sessions', 'send', 'ses_x'], 'missing <kind>', 'sessions send'],
    [['sessions', 'send', 'ses_x', 'vote', '--payload', '{no'], '--payload is not JSON', 'sessions send'],
    [['sessions', 'commit', 'ses_x'], '--outcome JSON is required (e.g. --outcome \'"approved"\')', 'sessions commit'],
    [['sessions', 'commit', 'ses_x', '--outcome', 'approved'], '--outcome is not JSON', 'sessions commit'],
    [['sessions', 'cancel', 'ses_x', '--token', 'abc'], 'secrets are not accepted as flag values', 'sessions cancel'],
  ])('%j', async (argv, message, command) => {
    const result = await run(argv, {}, runCli)
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.startsWith(`error: ${message}`)).toBe(true)
    expect(result.stderr).toContain(`Usage: mecharim ${command}`)
    expect(result.stderr).not.toContain('abc\n')
  })

  it.each([
    [['sessions', '--help'], 'Usage: mecharim sessions <start|list|show|send|commit|cancel>'],
    [['help', 'sessions', 'start'], 'Usage: mecharim sessions start --mode M --participant ID... --ttl SECONDS'],
    [['sessions', 'commit', '-h'], 'Usage: mecharim sessions commit <id> --outcome JSON'],
  ])('%j prints the usage', async (argv, heading) => {
    const result = await run(argv, {}, runCli)
    expect(result.code).toBe(0)
    expect(result.stdout.startsWith(heading)).toBe(true)
  })

  it('a malformed session id is refused locally, exit 1', async () => {
    const result = await as('lead', ['sessions', 'show', 'ses_nope'])
    expect(result).toMatchObject({ code: 1, stdout: '' })
    expect(result.stderr).toMatch(/^error: expected a session id \(ses_ and 26 of 0-9 a-z\), got "ses_nope"\n$/)
  })
})

describe('whoami', () => {
  it('shows what the key may do with sessions', async () => {
    const issued = await t.app.inject({ method: 'POST', url: '/v1/mechas/ben/keys', headers: admin, payload: { permissions: { sessions: { max_open: 2, modes: ['decision.*'], can_manage_modes: true } } } })
    const env: Env = { MECHA_URL: url, MECHA_TOKEN: issued.json<{ token: string }>().token }
    expect((await run(['whoami'], env, runCli)).stdout).toMatch(/^sessions\s+may start in decision\.\* \(at most 2 open\); may manage modes$/m)
    expect((await as('ann', ['whoami'])).stdout).toMatch(/^sessions\s+may start in \*; may not manage modes$/m)
  })
})

describe('sessions against the gateway', () => {
  let id: string

  it('start: the initiator is the key\'s mecha, the participants sorted; --json prints the view', async () => {
    const result = await as('lead', ['sessions', 'start', '--mode', 'decision.v1', '--participant', 'ann', '--participant', 'ben', '--intent', 'ship friday?', '--ttl', '600', '--json'])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const view = JSON.parse(result.stdout) as View & { mode: string; intent: string }
    expect(view).toMatchObject({ mode: 'decision.v1', initiator: 'lead', participants: ['ann', 'ben', 'lead'], intent: 'ship friday?', state: 'open' })
    id = view.id
  })

  it('start without --json says what happened and prints the fields', async () => {
    const result = await as('lead', ['sessions', 'start', '--mode', 'decision.v1', '--participant', 'ann', '--ttl', '60'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Started session ses_[0-9a-z]{26} \(mode decision\.v1\); every participant was sent session\.started\.\n/)
    expect(result.stdout).toMatch(/^participants\s+ann, lead$/m)
    expect(result.stdout).toMatch(/^state\s+open$/m)
  })

  it('an unknown mode is refused with the gateway\'s reason, exit 1', async () => {
    const result = await as('lead', ['sessions', 'start', '--mode', 'nothing.v1', '--participant', 'ann', '--ttl', '60'])
    expect(result).toMatchObject({ code: 1, stdout: '' })
    expect(result.stderr).toMatch(/^error: unknown_mode: .*\(request req_\w+\)\n$/)
  })

  it('show: a participant sees it; anyone else gets unknown_session', async () => {
    const shown = await as('ann', ['sessions', 'show', id])
    expect(shown.code).toBe(0)
    expect(shown.stdout).toMatch(new RegExp(`^id\\s+${id}$`, 'm'))
    expect(shown.stdout).toMatch(/^initiator\s+lead$/m)
    expect(shown.stdout).toMatch(/^intent\s+ship friday\?$/m)
    const outsider = await as('outsider', ['sessions', 'show', id])
    expect(outsider.code).toBe(1)
    expect(outsider.stderr).toMatch(/^error: unknown_session: /)
  })

  it('list: the caller\'s sessions newest first; --limit pages, the cursor on stderr', async () => {
    const all = await as('ann', ['sessions', 'list', '--json'])
    const sessions = (JSON.parse(all.stdout) as { sessions: View[] }).sessions
    expect(sessions).toHaveLength(2)
    expect(sessions[1]?.id).toBe(id)
    const table = await as('ann', ['sessions', 'list', '--state', 'open', '--limit', '1'])
    expect(table.code).toBe(0)
    const lines = table.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+MODE\s+STATE\s+INITIATOR\s+PARTICIPANTS\s+EXPIRES$/)
    expect(lines).toHaveLength(2)
    expect(table.stderr).toBe(`More: mecharim sessions list --state open --limit 1 --after ${sessions[0]?.id}\n`)
    expect((await as('outsider', ['sessions', 'list'])).stdout).toBe('No sessions.\n')
  })

  it('send: to one participant, or to every other one; a non-participant is refused', async () => {
    const one = await as('ann', ['sessions', 'send', id, 'vote', '--to', 'lead', '--payload', '"yes"'])
    expect(one).toMatchObject({ code: 0, stderr: '' })
    expect(one.stdout).toMatch(new RegExp(`^Accepted vote from ann in session ${id}: msg_\\w+ to lead\\.\\n$`))
    const all = await as('ben', ['sessions', 'send', id, 'vote', '--payload', '"no"', '--json'])
    const accepted = JSON.parse(all.stdout) as { from: string; messages: { to: string }[] }
    expect(accepted.from).toBe('ben')
    expect(accepted.messages.map((m) => m.to).sort()).toEqual(['ann', 'lead'])
    const outsider = await as('outsider', ['sessions', 'send', id, 'vote', '--payload', '1'])
    expect(outsider.code).toBe(1)
    expect(outsider.stderr).toMatch(/^error: not_a_participant: /)
  })

  it('commit: a participant who did not start it is refused; the initiator\'s commit closes it', async () => {
    const refused = await as('ann', ['sessions', 'commit', id, '--outcome', '"yes"'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^error: not_session_initiator: /)
    const committed = await as('lead', ['sessions', 'commit', id, '--outcome', '{"ship":"friday"}', '--reason', 'all agreed', '--json'])
    expect(committed.code).toBe(0)
    expect(JSON.parse(committed.stdout)).toMatchObject({ id, state: 'committed', outcome: { ship: 'friday' }, reason: 'all agreed' })
    const again = await as('lead', ['sessions', 'cancel', id])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^error: session_closed: /)
  })

  it('cancel: the initiator closes an open session without an outcome', async () => {
    const open = (JSON.parse((await as('lead', ['sessions', 'list', '--state', 'open', '--json'])).stdout) as { sessions: View[] }).sessions
    expect(open).toHaveLength(1)
    const result = await as('lead', ['sessions', 'cancel', open[0]?.id ?? '', '--reason', 'not needed'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Cancelled session ses_\w+; every participant was sent session\.cancelled\.\n/)
    expect(result.stdout).toMatch(/^state\s+cancelled$/m)
    expect(result.stdout).toMatch(/^reason\s+not needed$/m)
    expect((await as('lead', ['sessions', 'list', '--state', 'open'])).stdout).toBe('No sessions.\n')
  })
})
