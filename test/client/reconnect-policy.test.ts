import { describe, expect, it } from 'vitest'
import { ConnectionRevokedError, MechaError } from '../../src/client/errors.js'
import { parseFrame } from '../../src/client/frames.js'
import type { WebSocketEventLike } from '../../src/client/types.js'
import { closeOutcome, reconnectDelayMs, resolveReconnect, retryable } from '../../src/client/reconnect.js'

const close = (code: number | undefined, reason: string): WebSocketEventLike => ({ type: 'close', ...(code !== undefined ? { code } : {}), reason })

describe('closeOutcome: the closing frame and the legacy 1008 close are read the same way', () => {
  it.each(['invalid_key', 'signature_required', 'bad_signature'])('%s ends the connection, from a closing frame or from the close reason alone', (reason) => {
    for (const outcome of [closeOutcome(close(1008, reason), { reason, detail: 'the key changed' }), closeOutcome(close(1008, reason), undefined), closeOutcome(close(1006, ''), { reason, detail: 'x' })]) {
      expect(outcome.reconnect).toBe(false)
      if (outcome.reconnect) continue
      expect(outcome.error).toBeInstanceOf(ConnectionRevokedError)
      expect(outcome.error).toMatchObject({ status: 0, code: 'UNAUTHENTICATED', reason })
    }
  })

  it('reauthenticate reconnects, from a closing frame or from the close reason alone', () => {
    for (const outcome of [closeOutcome(close(1008, 'reauthenticate'), { reason: 'reauthenticate', detail: 'max age' }), closeOutcome(close(1008, 'reauthenticate'), undefined)]) {
      expect(outcome).toMatchObject({ reconnect: true, cause: { code: 'UNAUTHENTICATED', reason: 'reauthenticate' } })
    }
  })

  it('an unknown closing reason, or a 1008 without a readable reason, ends the connection (no reconnect loop)', () => {
    expect(closeOutcome(close(1008, ''), { reason: 'something_new', detail: 'x' })).toMatchObject({ reconnect: false, error: { reason: 'something_new' } })
    expect(closeOutcome(close(1008, 'Policy Violation!'), undefined)).toMatchObject({ reconnect: false, error: { reason: 'connection_closed', code: 'UNAUTHENTICATED' } })
  })

  it.each([1000, 1001, 1005, 1006, 1011, 1012, 1013, undefined])('close code %s is a lost connection: reconnect', (code) => {
    expect(closeOutcome(close(code, ''), undefined)).toMatchObject({ reconnect: true, cause: { code: 'UNAVAILABLE', reason: 'connection_closed' } })
  })

  it.each([1002, 1003, 1007, 1009, 1010])('close code %s would only repeat: end', (code) => {
    expect(closeOutcome(close(code, ''), undefined)).toMatchObject({ reconnect: false, error: { reason: 'connection_closed' } })
  })
})

describe('reconnectDelayMs', () => {
  const policy = resolveReconnect({ initialDelayMs: 100, maxDelayMs: 1000 })
  const lost = new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'connection_closed', detail: 'x' })

  it('doubles per attempt with equal jitter, capped at maxDelayMs', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => reconnectDelayMs(policy, n, lost, () => 0))).toEqual([50, 100, 200, 400, 500, 500])
    expect([1, 2, 3, 4, 5, 6].map((n) => reconnectDelayMs(policy, n, lost, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000])
  })

  it('answers reauthenticate at once (jitter only), and waits at least Retry-After', () => {
    const reauthenticate = new MechaError({ status: 0, code: 'UNAUTHENTICATED', reason: 'reauthenticate', detail: 'x' })
    expect(reconnectDelayMs(policy, 1, reauthenticate, () => 1)).toBe(50)
    const limited = new MechaError({ status: 429, code: 'RESOURCE_EXHAUSTED', reason: 'rate_limited', detail: 'x', retryAfterSeconds: 3 })
    expect(reconnectDelayMs(policy, 2, limited, () => 0)).toBe(3000)
    expect(retryable(limited)).toBe(true)
    expect(retryable(new MechaError({ status: 401, code: 'UNAUTHENTICATED', reason: 'invalid_key', detail: 'x' }))).toBe(false)
  })
})

describe('resolveReconnect', () => {
  it('defaults, false, and checked fields', () => {
    expect(resolveReconnect(undefined)).toEqual({ enabled: true, maxAttempts: 10, initialDelayMs: 500, maxDelayMs: 30_000 })
    expect(resolveReconnect(false).enabled).toBe(false)
    expect(resolveReconnect({ maxAttempts: Number.POSITIVE_INFINITY }).maxAttempts).toBe(Number.POSITIVE_INFINITY)
    expect(() => resolveReconnect({ maxAttempts: 0 })).toThrow('expected reconnect.maxAttempts as an integer >= 1 or Infinity, got 0')
    expect(() => resolveReconnect({ initialDelayMs: 500, maxDelayMs: 100 })).toThrow('expected reconnect.maxDelayMs >= initialDelayMs (500), got 100')
    expect(() => resolveReconnect({ retries: 3 })).toThrow(/unknown "retries"/)
    expect(() => resolveReconnect('yes')).toThrow(/expected reconnect as a boolean or an object/)
  })
})

describe('parseFrame', () => {
  it('reads closing frames and refs; a malformed ref makes the frame unreadable', () => {
    expect(parseFrame('{"type":"closing","reason":"invalid_key","detail":"revoked"}')).toEqual({ type: 'closing', reason: 'invalid_key', detail: 'revoked' })
    expect(parseFrame('{"type":"acked","ids":["m"],"acknowledged":1,"ref":"ack.7"}')).toMatchObject({ ref: 'ack.7' })
    expect(parseFrame('{"type":"error","reason":"invalid_request","detail":"x","ref":"bad ref"}')).toBeUndefined()
    expect(parseFrame('{"type":"acked","ids":["m"],"acknowledged":0,"reason":7}')).toBeUndefined()
  })
})
