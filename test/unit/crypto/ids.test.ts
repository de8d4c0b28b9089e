import { describe, expect, it } from 'vitest'
import { EVENT_ID_RE, idTime } from '../../../src/crypto/id-formats.js'
import { newEventId, newMessageId, newRequestId, newSessionId } from '../../../src/crypto/ids.js'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const decode = (digits: string): bigint => [...digits].reduce((acc, c) => acc * 32n + BigInt(CROCKFORD.indexOf(c)), 0n)

describe('newEventId (ULID layout)', () => {
  it('encodes the millisecond time in its first 10 characters', () => {
    const now = Date.UTC(2026, 10, 22, 6, 30, 0, 123) + 10_000_000
    const id = newEventId(now)
    expect(id).toMatch(EVENT_ID_RE)
    expect(decode(id.slice(0, 10))).toBe(BigInt(now))
  })

  it('is strictly increasing within one millisecond and across a clock that goes back', () => {
    const now = Date.now() + 20_000_000
    const ids = Array.from({ length: 5000 }, () => newEventId(now))
    ids.push(newEventId(now - 1000))
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true)
    // within a millisecond the 80-bit random part counts up by one
    expect(decode(ids[1]!.slice(10)) - decode(ids[0]!.slice(10))).toBe(1n)
  })

  it('draws fresh random bits for each new millisecond, past the pool refill', () => {
    const base = Date.now() + 30_000_000
    const randoms = new Set(Array.from({ length: 2000 }, (_, i) => newEventId(base + i).slice(10)))
    expect(randoms.size).toBe(2000)
    // every digit position takes many values (the bits are not stuck)
    const ids = [...randoms]
    for (let pos = 1; pos < 16; pos++) expect(new Set(ids.map((r) => r[pos])).size).toBeGreaterThan(16)
  })
})

describe('newMessageId and newSessionId', () => {
  it('are msg_ / ses_ and the lowercase of a time-ordered id, sorting by time with event ids', () => {
    const now = Date.UTC(2026, 11, 2)
    const [message, event, session] = [newMessageId(now), newEventId(now), newSessionId(now)]
    expect(message).toMatch(/^msg_[0-9a-hjkmnp-tv-z]{26}$/)
    expect(session).toMatch(/^ses_[0-9a-hjkmnp-tv-z]{26}$/)
    expect(EVENT_ID_RE.test(message.slice(4).toUpperCase())).toBe(true)
    expect(message.slice(4, 14)).toBe(event.slice(0, 10).toLowerCase())
    expect([message.slice(4), event.toLowerCase(), session.slice(4)]).toEqual([message.slice(4), event.toLowerCase(), session.slice(4)].sort())
    expect(new Set([message.slice(4), event.toLowerCase(), session.slice(4)]).size).toBe(3)
  })

  it('give their time back (idTime), in either case; a non-id is refused', () => {
    // Later than any id made before in this file (ids are monotonic: an earlier `now` gives the latest time).
    const now = Date.UTC(2099, 11, 2, 8, 0, 0, 123)
    expect(idTime(newMessageId(now).slice(4))).toBe(now)
    expect(idTime(newEventId(now))).toBe(now)
    expect(() => idTime('not-an-id!')).toThrow(TypeError)
    expect(() => idTime('0123')).toThrow(TypeError)
  })
})

describe('newRequestId', () => {
  it('is req_ and 32 hex digits, distinct across pool refills', () => {
    const ids = Array.from({ length: 1000 }, () => newRequestId())
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/)
    expect(new Set(ids).size).toBe(1000)
    // every hex position takes all 16 values (the bits are not stuck)
    for (let pos = 4; pos < 36; pos++) expect(new Set(ids.map((id) => id[pos])).size).toBe(16)
  })
})
