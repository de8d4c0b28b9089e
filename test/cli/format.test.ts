import { describe, expect, it } from 'vitest'
import { clean, formatTime, renderFields, renderTable } from '../../src/cli/format.js'

describe('renderTable', () => {
  it('pads columns to the widest cell, two spaces apart, without trailing spaces', () => {
    expect(renderTable(['ID', 'NAME'], [['alpha', 'A'], ['b', 'Beta bot']])).toBe(
      'ID     NAME\n'
      + 'alpha  A\n'
      + 'b      Beta bot\n',
    )
  })
})

describe('renderFields', () => {
  it('aligns values after the longest label', () => {
    expect(renderFields([['id', 'alpha'], ['description', '-']])).toBe('id           alpha\ndescription  -\n')
  })
})

describe('clean', () => {
  it('escapes control characters a stored name could use to rewrite the terminal', () => {
    expect(clean('evil\u001b[2J\r\nname\u009b')).toBe('evil\\u001b[2J\\u000d\\u000aname\\u009b')
    expect(renderTable(['NAME'], [['a\u001b[31mb']])).toBe('NAME\na\\u001b[31mb\n')
  })
})

describe('formatTime', () => {
  it('drops milliseconds and shows null as the fallback', () => {
    expect(formatTime('2030-01-02T03:04:05.678Z')).toBe('2030-01-02T03:04:05Z')
    expect(formatTime(null, 'never')).toBe('never')
  })
})
