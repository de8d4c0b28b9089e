import secureJsonParse from 'secure-json-parse'
import { Problem } from '../errors/problem.js'
import { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-depth.js'

/** Deepest nesting a message payload may have (documented); deeper JSON would overflow encoders downstream. */
export const MAX_PAYLOAD_DEPTH = MAX_JSON_DEPTH
/** Deepest nesting of a whole body: a payload of MAX_PAYLOAD_DEPTH inside the message object. */
export const MAX_BODY_DEPTH = MAX_PAYLOAD_DEPTH + 1

export type ParsedBody = { ok: true; value: unknown } | { ok: false; problem: Problem }

/**
 * The one JSON body rule of every route: nesting is bounded before JSON.parse runs (so a deeply nested
 * body costs one pass over its bytes, not a parse), then the JSON is parsed with prototype poisoning
 * refused. An empty body is "no body".
 */
export function parseJsonBody(raw: Buffer): ParsedBody {
  if (raw.length === 0) return { ok: true, value: undefined }
  if (exceedsJsonDepth(raw, MAX_BODY_DEPTH)) {
    return { ok: false, problem: new Problem('payload_too_deep', `the body nests deeper than ${MAX_BODY_DEPTH} levels (a payload at most ${MAX_PAYLOAD_DEPTH})`) }
  }
  try {
    return { ok: true, value: secureJsonParse.parse(raw.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' }) }
  } catch (err) {
    const isPoison = err instanceof SyntaxError && /prototype|constructor/i.test(err.message)
    return { ok: false, problem: isPoison ? new Problem('invalid_request', 'JSON keys __proto__ and constructor.prototype are refused') : new Problem('malformed_json') }
  }
}
