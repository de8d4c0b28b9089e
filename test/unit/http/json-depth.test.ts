import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { exceedsJsonDepth } from '../../../src/http/json-depth.js'

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** The reference: the nesting depth of a parsed value (a scalar is 0, `[]` and `{}` are 1). */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf))
  if (typeof value === 'object' && value !== null) return 1 + Math.max(0, ...Object.values(value).map(depthOf))
  return 0
}

/** The exact depth the scanner measures: the least maxDepth it does not refuse. */
function scannedDepth(bytes: Uint8Array): number {
  let depth = 0
  while (exceedsJsonDepth(bytes, depth)) depth++
  return depth
}

describe('exceedsJsonDepth', () => {
  it('counts arrays and objects, from 0 for a scalar', () => {
    expect(scannedDepth(utf8('1'))).toBe(0)
    expect(scannedDepth(utf8('"x"'))).toBe(0)
    expect(scannedDepth(utf8('{}'))).toBe(1)
    expect(scannedDepth(utf8('[[],{"a":[1]}]'))).toBe(3)
    expect(exceedsJsonDepth(utf8('[[[]]]'), 3)).toBe(false)
    expect(exceedsJsonDepth(utf8('[[[]]]'), 2)).toBe(true)
  })

  it('ignores brackets inside strings, escaped quotes and escaped backslashes included', () => {
    expect(scannedDepth(utf8('"[[[[{{{{"'))).toBe(0)
    expect(scannedDepth(utf8('{"a\\"[[[": "]]]\\"{{{"}'))).toBe(1)
    // `\\` ends with an escaped backslash: the next quote closes the string, and `[` after it counts.
    expect(scannedDepth(utf8('["\\\\", ["\\\\\\"["]]'))).toBe(2)
    expect(scannedDepth(utf8('["\\u005b\\u007b"]'))).toBe(1)
  })

  it('never lets stray closing brackets lower the depth below zero', () => {
    expect(exceedsJsonDepth(utf8(']]]]}}}}[[['), 2)).toBe(true)
    expect(exceedsJsonDepth(utf8(']]]]}}}}[['), 2)).toBe(false)
  })

  it('stops early on a deep prefix and scans a deep 1 MiB body quickly', () => {
    const deep = utf8('['.repeat(1024 * 1024))
    const started = performance.now()
    expect(exceedsJsonDepth(deep, 64)).toBe(true)
    const flat = utf8(`[${'"[{",'.repeat(200_000)}1]`)
    expect(exceedsJsonDepth(flat, 64)).toBe(false)
    expect(performance.now() - started).toBeLessThan(200)
  })

  it('checks its arguments', () => {
    expect(() => exceedsJsonDepth('[]' as unknown as Uint8Array, 1)).toThrow(/expected bytes to be a Uint8Array/)
    expect(() => exceedsJsonDepth(utf8('[]'), -1)).toThrow(/expected maxDepth to be a non-negative integer, got -1/)
    expect(() => exceedsJsonDepth(utf8('[]'), 1.5)).toThrow(RangeError)
  })

  it('agrees with the depth of JSON.parse on generated JSON, strings full of brackets, quotes and backslashes', () => {
    const nasty = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ' ', 'é', '\u0000') })
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small', withCrossShrink: true },
        fc.oneof(nasty, fc.integer(), fc.boolean(), fc.constant(null)),
        fc.array(tie('tree'), { maxLength: 4 }),
        fc.dictionary(nasty, tie('tree'), { maxKeys: 4 })),
    }))
    fc.assert(fc.property(tree, fc.boolean(), (value, pretty) => {
      const bytes = utf8(JSON.stringify(value, null, pretty ? 2 : undefined))
      const expected = depthOf(JSON.parse(new TextDecoder().decode(bytes)))
      expect(scannedDepth(bytes)).toBe(expected)
      expect(exceedsJsonDepth(bytes, expected)).toBe(false)
      if (expected > 0) expect(exceedsJsonDepth(bytes, expected - 1)).toBe(true)
    }), { numRuns: 500 })
  })
})
