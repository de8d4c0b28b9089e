import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, startTestControlPlane, type TestControlPlane } from './helpers.js'

let cp: TestControlPlane
let keyId: string
beforeAll(async () => {
  cp = await startTestControlPlane()
  expect((await run(['mechas', 'add', 'audited'], cp.env)).code).toBe(0)
  keyId = (JSON.parse((await run(['keys', 'issue', 'audited', '--json'], cp.env)).stdout) as { key: { id: string } }).key.id
  expect((await run(['keys', 'revoke', keyId], cp.env)).code).toBe(0)
})
afterAll(async () => { await cp.close() })

describe('mecharim audit', () => {
  it('prints the newest events first as a table: time, type, operator, target', async () => {
    const result = await run(['audit'], cp.env)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^TIME\s+TYPE\s+OPERATOR\s+TARGET\s+REQUEST$/)
    expect(lines.slice(1).map((line) => line.split(/\s+/)[1])).toEqual(['key.revoked', 'key.issued', 'mecha.created'])
    expect(lines[1]).toMatch(new RegExp(`^\\S+Z\\s+key\\.revoked\\s+cli-test\\s+key ${keyId}\\s+req_\\w+$`))
  })

  it('--type and --limit filter; a further page is announced on stderr', async () => {
    const result = await run(['audit', '--type', 'key.issued', '--json'], cp.env)
    expect(result.code).toBe(0)
    const body = JSON.parse(result.stdout) as { events: { type: string; target: { id: string } }[]; next: string | null }
    expect(body.events.map((e) => [e.type, e.target.id])).toEqual([['key.issued', keyId]])
    const paged = await run(['audit', '--limit', '1'], cp.env)
    expect(paged.stdout.trimEnd().split('\n')).toHaveLength(2)
    expect(paged.stderr).toMatch(/^More: mecharim audit --limit 1 --before \w+\n$/)
    const before = /--before (\w+)/.exec(paged.stderr)?.[1] ?? ''
    const next = await run(['audit', '--limit', '1', '--before', before], cp.env)
    expect(next.stdout).toContain('key.issued')
  })

  it('an unknown --type is a usage error listing the types', async () => {
    const result = await run(['audit', '--type', 'key.deleted'], cp.env)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^error: --type expects one of mecha\.created, .*operator\.refused[a-z_., ]*, got "key\.deleted"\n\nUsage: mecharim audit/)
  })

  it('is listed in the main help', async () => {
    expect((await run(['help'], {})).stdout).toMatch(/^ {2}audit +Show the audit trail/m)
  })
})
