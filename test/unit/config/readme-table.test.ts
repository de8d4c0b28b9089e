import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { VARIABLES } from '../../../src/config/schema.js'

describe('README configuration table', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  const rows = readme.split('\n').filter((line) => line.startsWith('| `'))

  it.each(VARIABLES.map((v) => [v.name, v]))('documents %s with its default', (name, spec) => {
    const row = rows.find((r) => r.startsWith(`| \`${name}\` |`))
    expect(row, `README has no row for ${name}`).toBeDefined()
    const expectedDefault = spec.default === undefined ? '(unset)' : `\`${spec.default}\``
    expect(row).toBe(`| \`${name}\` | ${expectedDefault} | ${spec.description} |`)
  })

  it('documents no variable the service does not read', () => {
    const documented = rows.map((r) => /^\| `([A-Z0-9_]+)` \|/.exec(r)?.[1]).filter((n): n is string => n !== undefined)
    expect(documented.sort()).toEqual(VARIABLES.map((v) => v.name).sort())
  })
})
