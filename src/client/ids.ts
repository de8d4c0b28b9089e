import { describe } from './encoding.js'

const MESSAGE_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/
export const MAX_ACK_IDS = 100

/** 1 to 100 message ids, as the gateway accepts them in an acknowledgement. */
export function checkMessageIds(ids: readonly string[]): void {
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_ACK_IDS) {
    throw new TypeError(`expected 1 to ${MAX_ACK_IDS} message ids, got ${Array.isArray(ids) ? `${ids.length}` : describe(ids)}`)
  }
  for (const id of ids) {
    if (typeof id !== 'string' || !MESSAGE_ID_RE.test(id)) throw new TypeError(`expected a message id, got ${describe(id)}`)
  }
  if (new Set(ids).size !== ids.length) throw new TypeError('expected distinct message ids, got a repeated one')
}
