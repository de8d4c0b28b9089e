/**
 * Whether a JSON text nests deeper than `maxDepth` arrays/objects, in one pass over the bytes and
 * before any parse: brackets inside strings do not count (a string ends at an unescaped `"`).
 */
export function exceedsJsonDepth(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    if (inString) {
      if (b === 0x5c) i++ // backslash: the next byte is escaped
      else if (b === 0x22) inString = false
      continue
    }
    if (b === 0x22) inString = true
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > maxDepth) return true
    } else if (b === 0x5d || b === 0x7d) depth--
  }
  return false
}
