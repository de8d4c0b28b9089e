import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../src/cli/main.js'
import { mechasAdd, mechasList, mechasRemove, mechasShow } from '../../src/cli/commands/mechas.js'
import { run, startTestControlPlane, type TestControlPlane } from './helpers.js'

let cp: TestControlPlane
beforeAll(async () => { cp = await startTestControlPlane() })
afterAll(async () => { await cp.close() })

describe('mechas add', () => {
  it('registers a mecha and prints its fields', async () => {
    const result = await run(['alpha', '--name', 'Alpha bot', '--description', 'first', '--listed', '--accepts', 'task.*, ping'], cp.env, mechasAdd)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toContain('Registered mecha alpha')
    expect(result.stdout).toMatch(/^name\s+Alpha bot$/m)
    expect(result.stdout).toMatch(/^listed\s+yes$/m)
    expect(result.stdout).toMatch(/^accepts\s+task\.\*, ping$/m)
    expect(result.stdout).toMatch(/^created\s+\S+Z by cli-test$/m)
  })

  it('--json prints the response body, the same mecha that show returns', async () => {
    const added = await run(['beta', '--json'], cp.env, mechasAdd)
    expect(added.code).toBe(0)
    const body = JSON.parse(added.stdout) as { mecha: { id: string; listed: boolean; accepts: string[] } }
    expect(body.mecha).toMatchObject({ id: 'beta', listed: false, accepts: ['*'], status: 'active' })
    const shown = await run(['beta', '--json'], cp.env, mechasShow)
    expect(JSON.parse(shown.stdout)).toEqual(body)
  })

  it('an existing id is refused with the reason and request id', async () => {
    const result = await run(['alpha'], cp.env, mechasAdd)
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^error: mecha_exists: mecha alpha already exists \(request req_\w+\)\n$/)
  })
})

describe('mechas list', () => {
  it('prints an aligned table', async () => {
    const result = await run([], cp.env, mechasList)
    expect(result.code).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+LISTED\s+NAME\s+ACCEPTS\s+CREATED$/)
    expect(lines.slice(1).map((line) => line.split(/\s{2,}/)[0])).toEqual(['alpha', 'beta'])
    const statusColumn = lines[0]?.indexOf('STATUS')
    for (const line of lines.slice(1)) expect(line.indexOf('active')).toBe(statusColumn)
  })

  it('pages with --limit and --after, the cursor hint on stderr', async () => {
    const first = await run(['--limit', '1'], cp.env, mechasList)
    expect(first.stdout).toContain('alpha')
    expect(first.stdout).not.toContain('beta')
    expect(first.stderr).toBe('More: mecharim mechas list --after alpha\n')
    const second = await run(['--limit', '1', '--after', 'alpha', '--json'], cp.env, mechasList)
    expect(JSON.parse(second.stdout)).toMatchObject({ mechas: [{ id: 'beta' }], next: null })
  })

  it('a --limit that is not a number is a usage error', async () => {
    const result = await run(['--limit', 'ten'], cp.env, mechasList)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('error: --limit expects a whole number, got "ten"')
    expect(result.stderr).toContain('Usage: mecharim mechas list')
  })
})

describe('mechas show', () => {
  it('prints the mecha', async () => {
    const result = await run(['alpha'], cp.env, mechasShow)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^id\s+alpha$/m)
    expect(result.stdout).toMatch(/^description\s+first$/m)
  })

  it('an unknown mecha exits 1 with mecha_not_found', async () => {
    const result = await run(['nope'], cp.env, mechasShow)
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^error: mecha_not_found: no mecha nope \(request req_\w+\)\n$/)
  })

  it('a missing id is a usage error', async () => {
    const result = await run([], cp.env, mechasShow)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^error: missing <id>\n\nUsage: mecharim mechas show/)
  })
})

describe('mechas remove', () => {
  it('deactivates the mecha and says its keys stop working', async () => {
    const result = await run(['beta'], cp.env, mechasRemove)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Deactivated mecha beta at \S+Z: its keys no longer work\.\n$/)
    const shown = await run(['beta', '--json'], cp.env, mechasShow)
    expect(JSON.parse(shown.stdout)).toMatchObject({ mecha: { status: 'inactive' } })
  })
})

describe('mechas update', () => {
  it('changes the given fields only and prints the mecha', async () => {
    expect((await run(['mechas', 'add', 'upd', '--name', 'Before', '--description', 'kept'], cp.env, runCli)).code).toBe(0)
    const result = await run(['mechas', 'update', 'upd', '--name', 'After', '--listed', '--accepts', 'task.*'], cp.env, runCli)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toContain('Updated mecha upd')
    expect(result.stdout).toMatch(/^name\s+After$/m)
    expect(result.stdout).toMatch(/^description\s+kept$/m)
    expect(result.stdout).toMatch(/^listed\s+yes$/m)
    expect(result.stdout).toMatch(/^accepts\s+task\.\*$/m)
  })

  it('an empty --name clears it; --unlisted unlists; --json prints the body', async () => {
    const result = await run(['mechas', 'update', 'upd', '--name', '', '--unlisted', '--json'], cp.env, runCli)
    expect(result.code).toBe(0)
    expect((JSON.parse(result.stdout) as { mecha: unknown }).mecha).toMatchObject({ id: 'upd', name: null, listed: false })
  })

  it.each([
    [[], 'nothing to change: give at least one of --name, --description, --listed, --unlisted, --accepts, --max-deliveries, --backoff, --visibility, --dead-letter-ttl'],
    [['--listed', '--unlisted'], 'give either --listed or --unlisted, not both'],
  ])('%j is a usage error', async (flags, message) => {
    const result = await run(['mechas', 'update', 'upd', ...flags], cp.env, runCli)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(new RegExp(`^error: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n\nUsage: mecharim mechas update`))
  })

  it('an unknown mecha is not_found, exit 1', async () => {
    const result = await run(['mechas', 'update', 'nobody', '--name', 'x'], cp.env, runCli)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: mecha_not_found: /)
  })
})
