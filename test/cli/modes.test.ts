import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../src/cli/main.js'
import { run, startTestControlPlane, type TestControlPlane } from './helpers.js'

let cp: TestControlPlane
beforeAll(async () => { cp = await startTestControlPlane() })
afterAll(async () => { await cp.close() })

interface ModeBody { mode: { name: string; kinds: string[]; description: string | null; version: number; revision: number; created_by: string } }

describe('modes put', () => {
  it('creates a mode from repeated --kind flags, the version taken from the name\'s .v<N> suffix', async () => {
    const result = await run(['modes', 'put', 'decision.v1', '--kind', 'proposal', '--kind', 'vote', '--kind', 'commit', '--description', 'propose, vote, commit'], cp.env)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toContain('Created mode decision.v1')
    expect(result.stdout).toMatch(/^kinds\s+proposal, vote, commit$/m)
    expect(result.stdout).toMatch(/^version\s+1$/m)
    expect(result.stdout).toMatch(/^description\s+propose, vote, commit$/m)
    expect(result.stdout).toMatch(/^updated\s+\S+Z by cli-test$/m)
    // What the open route serves now.
    const served = await fetch(`${cp.url}/v1/modes/decision.v1`)
    expect(((await served.json()) as ModeBody).mode).toMatchObject({ name: 'decision.v1', kinds: ['proposal', 'vote', 'commit'], version: 1, description: 'propose, vote, commit' })
  })

  it('replaces a mode; a comma list and --version work too; --json prints the body', async () => {
    const result = await run(['modes', 'put', 'decision.v1', '--kind', 'proposal,vote', '--kind', 'commit', '--kind', 'veto', '--version', '2', '--json'], cp.env)
    expect(result.code).toBe(0)
    const body = JSON.parse(result.stdout) as ModeBody
    expect(body.mode).toMatchObject({ name: 'decision.v1', kinds: ['proposal', 'vote', 'commit', 'veto'], version: 2, description: null, revision: 2 })
  })

  it('a replace says the revision; putting what is stored keeps it', async () => {
    const again = await run(['modes', 'put', 'decision.v1', '--kind', 'proposal,vote,commit,veto', '--version', '2'], cp.env)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('Saved mode decision.v1 (revision 2)')
  })

  it.each([
    [['modes', 'put', 'review', '--kind', 'ask'], '--version N is required: the name "review" has no .v<N> suffix'],
    [['modes', 'put', 'review.v1'], 'give at least one --kind'],
    [['modes', 'put', 'review.v1', '--kind', 'ask', '--version', 'one'], '--version expects a whole number, got "one"'],
    [['modes', 'put'], 'missing <name>'],
  ])('%j is a usage error', async (argv, message) => {
    const result = await run(argv, cp.env)
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.startsWith(`error: ${message}\n\nUsage: mecharim modes put`)).toBe(true)
  })

  it('a name the server refuses exits 1 with its reason', async () => {
    const result = await run(['modes', 'put', 'Bad Name', '--kind', 'x', '--version', '1'], cp.env)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: invalid_id: .*\(request req_\w+\)\n$/)
  })

  it('without an operator token it is refused before any request', async () => {
    const result = await run(['modes', 'put', 'review.v1', '--kind', 'ask'], { MECHA_URL: cp.url })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: no operator token: set MECHA_OPERATOR_TOKEN/)
  })
})

describe('modes list', () => {
  it('prints a table of the live modes, by name', async () => {
    expect((await run(['modes', 'put', 'auction.v3', '--kind', 'bid,award'], cp.env)).code).toBe(0)
    const result = await run(['modes', 'list'], cp.env)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^NAME\s+VERSION\s+KINDS\s+DESCRIPTION\s+UPDATED$/)
    expect(lines.slice(1).map((line) => line.split(/\s{2,}/).slice(0, 3))).toEqual([
      ['auction.v3', '3', 'bid, award'],
      ['decision.v1', '2', 'proposal, vote, commit, veto'],
    ])
  })

  it('needs no operator token (reading modes is open); --json prints the body', async () => {
    const result = await run(['modes', 'list', '--json'], { MECHA_URL: cp.url })
    expect(result.code).toBe(0)
    const body = JSON.parse(result.stdout) as { modes: { name: string }[] }
    expect(body.modes.map((m) => m.name)).toEqual(['auction.v3', 'decision.v1'])
  })
})

describe('modes remove', () => {
  it('deletes the mode; it is gone from the list', async () => {
    const result = await run(['modes', 'remove', 'auction.v3'], cp.env)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toBe('Removed mode auction.v3.\n')
    const listed = await run(['modes', 'list', '--json'], cp.env)
    expect((JSON.parse(listed.stdout) as { modes: { name: string }[] }).modes.map((m) => m.name)).toEqual(['decision.v1'])
  })

  it('an unknown mode exits 1 with unknown_mode', async () => {
    const result = await run(['modes', 'remove', 'auction.v3'], cp.env)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: unknown_mode: no mode "auction.v3" \(request req_\w+\)\n$/)
  })

  it('every change was audited with the operator', async () => {
    const result = await run(['audit', '--json'], cp.env)
    const events = (JSON.parse(result.stdout) as { events: { type: string; operator: string; target: { id: string } }[] }).events
    expect(events.filter((e) => e.type.startsWith('mode.')).map((e) => [e.type, e.target.id, e.operator])).toEqual([
      ['mode.deleted', 'auction.v3', 'cli-test'],
      ['mode.put', 'auction.v3', 'cli-test'],
      ['mode.put', 'decision.v1', 'cli-test'],
      ['mode.put', 'decision.v1', 'cli-test'],
    ])
  })
})

describe('modes help', () => {
  it.each([
    [['modes', '--help'], 'Usage: mecharim modes <list|put|remove>'],
    [['help', 'modes', 'put'], 'Usage: mecharim modes put <name>'],
    [['modes', 'remove', '-h'], 'Usage: mecharim modes remove <name>'],
  ])('%j prints the usage', async (argv, heading) => {
    const result = await run(argv, {}, runCli)
    expect(result.code).toBe(0)
    expect(result.stdout.startsWith(heading)).toBe(true)
  })
})
