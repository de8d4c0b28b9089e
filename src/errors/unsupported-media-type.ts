import { Problem } from './problem.js'

/** JSON is the only body type on every route; the refusal says what is wanted and what arrived. */
export function unsupportedMediaType(received: string | undefined): Problem {
  return new Problem('unsupported_media_type', `expected Content-Type: application/json, got ${received === undefined || received === '' ? 'none' : received}`)
}
