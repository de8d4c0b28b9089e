/**
 * Permission globs: `*` matches any run of characters, `?` exactly one; everything else is literal.
 * Matching is the iterative two-pointer algorithm with a single backtrack point, so it runs in
 * O(pattern x subject) at worst with no recursion: a pattern such as `*a*a*a*a*b` cannot backtrack
 * catastrophically. Patterns are bounded at validation (length 128, at most 8 wildcards).
 */
export const MAX_PATTERN_LENGTH = 128
export const MAX_WILDCARDS = 8
const PATTERN_RE = /^[A-Za-z0-9._/*?-]+$/

export function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) return `must be 1 to ${MAX_PATTERN_LENGTH} characters`
  if (!PATTERN_RE.test(pattern)) return 'may contain only letters, digits, `.`, `_`, `/`, `-` and the wildcards `*` and `?`'
  const wildcards = pattern.length - pattern.replace(/[*?]/g, '').length
  if (wildcards > MAX_WILDCARDS) return `may contain at most ${MAX_WILDCARDS} wildcards`
  return undefined
}

export function globMatch(pattern: string, subject: string): boolean {
  let p = 0
  let s = 0
  let starP = -1
  let starS = 0
  while (s < subject.length) {
    const pc = pattern[p]
    if (pc === '?' || (pc !== undefined && pc !== '*' && pc === subject[s])) {
      p++
      s++
    } else if (pc === '*') {
      starP = p++
      starS = s
    } else if (starP !== -1) {
      p = starP + 1
      s = ++starS
    } else {
      return false
    }
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}

export function matchesAny(patterns: readonly string[], subject: string): boolean {
  for (const pattern of patterns) if (globMatch(pattern, subject)) return true
  return false
}
