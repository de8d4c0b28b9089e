const OPEN_BRACKET = 0x5b // [
const CLOSE_BRACKET = 0x5d // ]
const OPEN_BRACE = 0x7b // {
const CLOSE_BRACE = 0x7d // }
const QUOTE = 0x22 // "
const BACKSLASH = 0x5c // \

/**
 * True when `bytes`, read as JSON text, nests arrays and objects deeper than `maxDepth` (a top-level
 * `{}` is depth 1, a scalar depth 0). Called before JSON.parse: a deeply nested 1 MiB body costs the
 * parser (and then schema validation) 0.2-0.6 s of event loop, this scan costs one pass and no
 * allocation, and stops at the first byte over the bound.
 *
 * It counts brackets outside strings only (a string starts and ends at an unescaped `"`; inside one,
 * `\` escapes the next byte, so `\"` and `\\` are handled). It does not validate: malformed input is
 * left for JSON.parse to refuse, and a stray closing bracket never drives the depth below zero.
 * Multi-byte UTF-8 never contains these ASCII bytes, so scanning bytes is scanning characters.
 */
export function exceedsJsonDepth(bytes: Uint8Array, maxDepth: number): boolean {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`expected bytes to be a Uint8Array, got ${typeof bytes}`)
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) throw new RangeError(`expected maxDepth to be a non-negative integer, got ${maxDepth}`)
  let depth = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]
    if (inString) {
      if (byte === BACKSLASH) i++
      else if (byte === QUOTE) inString = false
    } else if (byte === QUOTE) {
      inString = true
    } else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      if (++depth > maxDepth) return true
    } else if ((byte === CLOSE_BRACKET || byte === CLOSE_BRACE) && depth > 0) {
      depth--
    }
  }
  return false
}

/** The documented nesting bound of a message payload; a whole body may nest one level more (json-body.ts MAX_BODY_DEPTH). */
export const MAX_JSON_DEPTH = 64
