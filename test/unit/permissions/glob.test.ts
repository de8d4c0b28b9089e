import { describe, expect, it } from 'vitest'
import { globMatch, matchesAny, patternProblem } from '../../../src/permissions/glob.js'

describe('globMatch', () => {
  it.each([
    ['*', 'anything', true], ['*', '', true], ['beta', 'beta', true], ['beta', 'betas', false],
    ['ops-*', 'ops-1', true], ['ops-*', 'ops-', true], ['ops-*', 'op', false], ['a?c', 'abc', true],
    ['a?c', 'ac', false], ['*.request', 'task.request', true], ['*.request', 'task.reply', false],
    ['a*b*c', 'aXbYc', true], ['a*b*c', 'aXbY', false], ['**', 'x', true],
  ])('%j vs %j -> %s', (pattern, subject, expected) => {
    expect(globMatch(pattern, subject)).toBe(expected)
  })
  it('matches any of a list', () => {
    expect(matchesAny(['a', 'b*'], 'bee')).toBe(true)
    expect(matchesAny([], 'bee')).toBe(false)
  })
  it('stays linear-ish on a backtracking-hostile input (a regex engine would explode here)', () => {
    const subject = 'a'.repeat(128)
    // completes at all: 8 stars over 128 characters is bounded by pattern x subject steps
    expect(globMatch('*a*a*a*a*a*a*a*b', subject)).toBe(false)
  })
})

describe('patternProblem', () => {
  it.each([['', 'must be 1 to'], ['x'.repeat(129), 'must be 1 to'], ['a b', 'may contain only'], ['a:b', 'may contain only'], ['*********', 'at most 8 wildcards']])('%j', (pattern, message) => {
    expect(patternProblem(pattern)).toContain(message)
  })
  it('accepts ordinary patterns', () => {
    expect(patternProblem('ops-*')).toBeUndefined()
    expect(patternProblem('task/v1.*')).toBeUndefined()
  })
})
