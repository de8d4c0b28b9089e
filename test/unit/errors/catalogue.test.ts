import { describe, expect, it } from 'vitest'
import { CATALOGUE, ERROR_CODES, type ErrorCode } from '../../../src/errors/catalogue.js'
import { Problem } from '../../../src/errors/problem.js'

describe('error catalogue', () => {
  const entries = Object.entries(CATALOGUE)

  it('every reason is snake_case and unique', () => {
    for (const [reason] of entries) expect(reason).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/)
    expect(new Set(entries.map(([r]) => r)).size).toBe(entries.length)
  })

  it('every reason has a code whose allowed statuses include its status', () => {
    for (const [reason, entry] of entries) {
      expect(Object.keys(ERROR_CODES), reason).toContain(entry.code)
      expect(ERROR_CODES[entry.code as ErrorCode] as readonly number[], reason).toContain(entry.status)
    }
  })

  it('every code is used, and every entry explains itself', () => {
    expect(new Set(entries.map(([, e]) => e.code))).toEqual(new Set(Object.keys(ERROR_CODES)))
    for (const [reason, entry] of entries) {
      expect(entry.meaning.length, reason).toBeGreaterThan(10)
      expect(entry.fix.length, reason).toBeGreaterThan(10)
    }
  })

  it('renders problem+json with extensions that cannot override the standard members', () => {
    const body = new Problem('stale_timestamp', 'off by 999 s', { extensions: { server_time: 1, status: 200, reason: 'ok' } }).toBody('req_1')
    expect(body).toEqual({
      type: 'urn:mecharim:problem:stale_timestamp', title: CATALOGUE.stale_timestamp.meaning, status: 401,
      code: 'UNAUTHENTICATED', reason: 'stale_timestamp', detail: 'off by 999 s', request_id: 'req_1', server_time: 1,
    })
  })
})
