/**
 * How many times a header was really sent (`name` lowercase). Node folds or drops duplicate headers
 * (a second Authorization is silently discarded), so credential checks read the raw list. No
 * allocation unless a sent name has the same length as `name`.
 */
export function headerCount(rawHeaders: readonly string[], name: string): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const sent = rawHeaders[i] as string
    if (sent.length === name.length && sent.toLowerCase() === name) count++
  }
  return count
}
