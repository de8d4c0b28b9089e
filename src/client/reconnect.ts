import { describe } from './encoding.js'
import { ConnectionRevokedError, MechaError } from './errors.js'
import { describeClose } from './socket.js'
import type { ReconnectOptions, WebSocketEventLike } from './types.js'

/** A resolved {@link ReconnectOptions}; `enabled` false when `reconnect: false`. */
export interface ReconnectPolicy {
  readonly enabled: boolean
  readonly maxAttempts: number
  readonly initialDelayMs: number
  readonly maxDelayMs: number
}

const DEFAULTS = { maxAttempts: 10, initialDelayMs: 500, maxDelayMs: 30_000 }
const FIELDS = new Set(Object.keys(DEFAULTS))
/** The reason of a `closing` frame that asks for a reconnect (every other reason ends the connection). */
export const REAUTHENTICATE = 'reauthenticate'
const POLICY_VIOLATION = 1008
/**
 * Closes that a new connection would only repeat: protocol and data errors, a frame too big, a
 * missing extension. Every other code (1001 going away, 1006 abnormal, 1011-1014 server trouble, no
 * code at all) is a lost connection and is reconnected.
 */
const FINAL_CODES = new Set([1002, 1003, 1007, 1009, 1010])

/** Check `reconnect` as `connect()` is called, so that misuse fails at once. */
export function resolveReconnect(option: unknown): ReconnectPolicy {
  if (option === undefined || option === true) return { enabled: true, ...DEFAULTS }
  if (option === false) return { enabled: false, ...DEFAULTS }
  if (option === null || typeof option !== 'object') throw new TypeError(`expected reconnect as a boolean or an object, got ${describe(option)}`)
  for (const name of Object.keys(option)) {
    if (!FIELDS.has(name)) throw new TypeError(`expected reconnect options among ${[...FIELDS].join(', ')}, got unknown ${describe(name)}`)
  }
  const given = option as ReconnectOptions
  const maxAttempts = given.maxAttempts ?? DEFAULTS.maxAttempts
  if (maxAttempts !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1)) {
    throw new TypeError(`expected reconnect.maxAttempts as an integer >= 1 or Infinity, got ${describe(maxAttempts)}`)
  }
  const initialDelayMs = milliseconds(given.initialDelayMs ?? DEFAULTS.initialDelayMs, 'initialDelayMs')
  const maxDelayMs = milliseconds(given.maxDelayMs ?? Math.max(DEFAULTS.maxDelayMs, initialDelayMs), 'maxDelayMs')
  if (maxDelayMs < initialDelayMs) throw new TypeError(`expected reconnect.maxDelayMs >= initialDelayMs (${initialDelayMs}), got ${maxDelayMs}`)
  return { enabled: true, maxAttempts, initialDelayMs, maxDelayMs }
}

/**
 * The wait before reconnect attempt `attempt` (1-based): exponential, capped at `maxDelayMs`, with
 * "equal jitter" (half fixed, half random) so that many clients dropped at once do not return at once.
 * A planned `reauthenticate` close is answered at once, with only a little jitter.
 */
export function reconnectDelayMs(policy: ReconnectPolicy, attempt: number, cause: MechaError, random: () => number = Math.random): number {
  if (attempt === 1 && cause.reason === REAUTHENTICATE) return Math.round((random() * policy.initialDelayMs) / 2)
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1))
  const retryAfterMs = (cause.retryAfterSeconds ?? 0) * 1000
  return Math.max(retryAfterMs, Math.round(ceiling / 2 + (random() * ceiling) / 2))
}

/** How an open connection ended: reconnect (with the cause), or end with an error. */
export type CloseOutcome = { reconnect: true; cause: MechaError } | { reconnect: false; error: MechaError }

/**
 * Decide on a close. The `closing` frame, when one came, says why; a gateway that sends none closes
 * with 1008 and the reason as close reason. Both are read the same way.
 */
export function closeOutcome(event: WebSocketEventLike, closing: { reason: string; detail: string } | undefined): CloseOutcome {
  const { code, reason: closeReason } = event
  const how = describeClose(event)
  const reason = closing?.reason ?? (code === POLICY_VIOLATION && closeReason !== undefined && /^[a-z][a-z0-9_]{0,63}$/.test(closeReason) ? closeReason : undefined)
  if (reason === REAUTHENTICATE) {
    return { reconnect: true, cause: new MechaError({ status: 0, code: 'UNAUTHENTICATED', reason, detail: closing?.detail ?? `the gateway asked the connection to authenticate again${how}` }) }
  }
  if (closing !== undefined || code === POLICY_VIOLATION) {
    return { reconnect: false, error: new ConnectionRevokedError(reason ?? 'connection_closed', closing?.detail ?? `the gateway closed the connection${how}`, code) }
  }
  const error = new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'connection_closed', detail: `the gateway closed the connection${how}` })
  return code !== undefined && FINAL_CODES.has(code) ? { reconnect: false, error } : { reconnect: true, cause: error }
}

/**
 * Whether a failed reconnect attempt is worth another: the gateway was unreachable or unavailable
 * (`UNAVAILABLE`), or refused for now (429: the per-key socket cap, a rate limit). A refusal of the
 * credentials (401, 403) ends the connection.
 */
export function retryable(error: unknown): error is MechaError {
  return error instanceof MechaError && (error.code === 'UNAVAILABLE' || error.status === 429)
}

function milliseconds(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`expected reconnect.${name} as a number of milliseconds >= 0, got ${describe(value)}`)
  return value
}
