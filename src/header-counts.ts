/**
 * How many times each header was really sent (names lowercase). Node folds or drops duplicate headers
 * (a second Authorization is silently discarded), so credential checks read the raw list.
 */
export function headerCounts(rawHeaders: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = (rawHeaders[i] as string).toLowerCase()
    counts.set(lower, (counts.get(lower) ?? 0) + 1)
  }
  return counts
}
