import { afterEach, describe, expect, it, vi } from 'vitest'
import { formatToken } from '../../src/crypto/token.js'
import { OPERATORS, admin, bearer } from '../helpers/app.js'
import { delivered, gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'
import { freshNonce } from '../helpers/runtime.js'

const MESSAGE = { to: 'beta', kind: 'task.request', payload: { n: 1 } }
/** The throttle's settings in these tests: 5 failures per 2 s window. */
const AUTH_FAILURES = { MECHA_AUTH_FAILURE_LIMIT: '5', MECHA_AUTH_FAILURE_WINDOW_SECONDS: '2' }

let h: GatewayHarness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

async function harness(env: Record<string, string> = {}): Promise<GatewayHarness> {
  h = await gatewayHarness(env)
  for (const id of ['alpha', 'beta']) await h.register(id)
  return h
}

/** A 429 rate_limited with the wait in both places; returns the wait. */
function expectRateLimited(res: { status: number; body: { reason?: string; code?: string; retry_after?: unknown }; headers: Headers }, maxSeconds: number): number {
  expect({ status: res.status, code: res.body?.code, reason: res.body?.reason }).toEqual({ status: 429, code: 'RESOURCE_EXHAUSTED', reason: 'rate_limited' })
  const retryAfter = Number(res.headers.get('retry-after'))
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxSeconds, `Retry-After ${res.headers.get('retry-after')}`).toBe(true)
  expect(res.body.retry_after).toBe(retryAfter)
  return retryAfter
}

const sleep = async (seconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, seconds * 1000))

describe('429 rate_limited: a key with a rate limit', () => {
  it('3 requests per 60 s: three 202, then 429 with Retry-After, and the fourth stores nothing', async () => {
    const g = await harness()
    const limited = await g.issue('alpha', { rate_limit: { requests: 3, per_seconds: 60 } })
    const accepted: string[] = []
    for (let n = 1; n <= 3; n++) {
      const res = await g.send(limited, { ...MESSAGE, payload: { n } })
      expect(res.status, JSON.stringify(res.body)).toBe(202)
      accepted.push(res.body.id)
    }
    const nonce = freshNonce()
    const fourth = await g.send(limited, { ...MESSAGE, payload: { n: 4 } }, { nonce })
    expectRateLimited(fourth, 60)
    expect((await delivered(g, 'beta')).map((m) => m.id)).toEqual(accepted)
    // The limited request spent its nonce: it cannot be replayed once the window has passed.
    const replay = await g.send(limited, { ...MESSAGE, payload: { n: 4 } }, { nonce })
    expect({ status: replay.status, reason: replay.body.reason }).toEqual({ status: 401, reason: 'replayed_nonce' })
  })

  it('counts every runtime route against the same budget', async () => {
    const g = await harness()
    const limited = await g.issue('alpha', { rate_limit: { requests: 2, per_seconds: 60 } })
    expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: limited })).status).toBe(200)
    expect((await g.send(limited, MESSAGE)).status).toBe(202)
    expectRateLimited(await g.call({ method: 'GET', url: '/v1/whoami', credentials: limited }), 60)
    expectRateLimited(await g.call({ method: 'GET', url: '/v1/inbox?wait=0', credentials: limited }), 60)
    expectRateLimited(await g.send(limited, MESSAGE), 60)
    expect(await delivered(g, 'beta')).toHaveLength(1)
  })

  it('a message refused by an earlier check spends no budget', async () => {
    const g = await harness()
    const limited = await g.issue('alpha', { rate_limit: { requests: 1, per_seconds: 60 } })
    expect((await g.send(limited, { ...MESSAGE, to: 'nobody' })).status).toBe(404)
    expect((await g.send(limited, MESSAGE)).status).toBe(202)
    expectRateLimited(await g.send(limited, MESSAGE), 60)
  })

  it('a changed rate limit applies from the next request', async () => {
    const g = await harness()
    const limited = await g.issue('alpha', { rate_limit: { requests: 1, per_seconds: 60 } })
    expect((await g.send(limited, MESSAGE)).status).toBe(202)
    expectRateLimited(await g.send(limited, MESSAGE), 60)
    const patched = await g.t.app.inject({ method: 'PATCH', url: `/v1/keys/${limited.keyId}`, headers: admin, payload: { rate_limit: null } })
    expect(patched.statusCode, patched.body).toBe(200)
    expect((await g.send(limited, MESSAGE)).status).toBe(202)
  })
})

describe('202: a key without a rate limit is not limited', () => {
  it('30 messages in a row are all accepted, with no rate-limit round trip', async () => {
    const g = await harness()
    // Issued with an explicit null: without one it would get MECHA_DEFAULT_KEY_RATE_LIMIT.
    const unlimited = await g.issue('alpha', { rate_limit: null })
    const hit = vi.spyOn(g.t.stores.rateLimiter, 'hit')
    for (let n = 0; n < 30; n++) expect((await g.send(unlimited, { ...MESSAGE, payload: { n } })).status).toBe(202)
    expect(hit).not.toHaveBeenCalled()
    expect(await delivered(g, 'beta')).toHaveLength(30)
  })
})

describe('429 rate_limited: too many failed authentications from one address', () => {
  it('after 5 failed runtime authentications even a valid request is refused, before any key lookup, until the window passes', async () => {
    const g = await harness(AUTH_FAILURES)
    const key = await g.issue('alpha')
    const wrongSecret = { keyId: key.keyId, token: formatToken(key.keyId, 'a'.repeat(52)) }
    for (let i = 0; i < 5; i++) {
      const res = await g.call({ method: 'GET', url: '/v1/whoami', credentials: wrongSecret })
      expect({ status: res.status, reason: res.body.reason }).toEqual({ status: 401, reason: 'invalid_key' })
    }
    const getKey = vi.spyOn(g.t.stores.control, 'getKey')
    const valid = await g.call({ method: 'GET', url: '/v1/whoami', credentials: key })
    const wait = expectRateLimited(valid, 2)
    // A never-seen key id is not even looked up.
    const unknown = { keyId: `mk${'z'.repeat(24)}`, token: formatToken(`mk${'z'.repeat(24)}`, 'b'.repeat(52)) }
    expectRateLimited(await g.call({ method: 'GET', url: '/v1/whoami', credentials: unknown }), 2)
    expect(getKey).not.toHaveBeenCalled()
    // The address is throttled on the control plane too (one guard per process), for a token never
    // seen from it: the admin token, which the harness used from here, is still evaluated.
    const operator = await g.t.app.inject({ method: 'GET', url: '/v1/mechas', headers: bearer(OPERATORS.reader) })
    expect({ status: operator.statusCode, reason: operator.json().reason }).toEqual({ status: 429, reason: 'rate_limited' })
    expect(Number(operator.headers['retry-after'])).toBeGreaterThanOrEqual(1)

    await sleep(wait)
    expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: key })).status).toBe(200)
    expect((await g.t.app.inject({ method: 'GET', url: '/v1/mechas', headers: admin })).statusCode).toBe(200)
  })

  it('after 5 guessed operator tokens even a valid operator token never used from the address is refused, unaudited, until the window passes', async () => {
    const g = await harness(AUTH_FAILURES)
    const key = await g.issue('alpha')
    for (let i = 0; i < 5; i++) {
      const res = await g.t.app.inject({ method: 'GET', url: '/v1/mechas', headers: bearer(`guess_${String(i).repeat(40)}`) })
      expect({ status: res.statusCode, reason: res.json().reason }).toEqual({ status: 401, reason: 'invalid_operator_token' })
    }
    const refused = await g.t.app.inject({ method: 'GET', url: '/v1/mechas', headers: bearer(OPERATORS.reader) })
    expect({ status: refused.statusCode, code: refused.json().code, reason: refused.json().reason }).toEqual({ status: 429, code: 'RESOURCE_EXHAUSTED', reason: 'rate_limited' })
    const wait = Number(refused.headers['retry-after'])
    expect(wait >= 1 && wait <= 2).toBe(true)
    expect(refused.json().retry_after).toBe(wait)
    expectRateLimited(await g.call({ method: 'GET', url: '/v1/whoami', credentials: key }), 2)

    await sleep(wait)
    const audit = await g.t.app.inject({ method: 'GET', url: '/v1/audit?type=operator.refused&limit=100', headers: admin })
    expect(audit.statusCode).toBe(200)
    // The five guesses are audited; the throttled requests wrote nothing.
    expect(audit.json().events.map((e: { details: { reason: string } }) => e.details.reason)).toEqual(Array(5).fill('invalid_operator_token'))
    expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: key })).status).toBe(200)
  })

  it('missing and malformed credentials count as failures too', async () => {
    const g = await harness(AUTH_FAILURES)
    const key = await g.issue('alpha')
    for (let i = 0; i < 3; i++) expect((await fetch(`${g.base}/v1/whoami`)).status).toBe(401)
    for (let i = 0; i < 2; i++) expect((await g.t.app.inject({ method: 'GET', url: '/v1/mechas', headers: { authorization: 'Basic abc' } })).statusCode).toBe(401)
    expectRateLimited(await g.call({ method: 'GET', url: '/v1/whoami', credentials: key }), 2)
  })

  it('refusals after the credential verified (replayed_nonce) are not failed authentications', async () => {
    const g = await harness(AUTH_FAILURES)
    const key = await g.issue('alpha')
    const nonce = freshNonce()
    expect((await g.send(key, MESSAGE, { nonce })).status).toBe(202)
    for (let i = 0; i < 10; i++) expect((await g.send(key, MESSAGE, { nonce })).body.reason).toBe('replayed_nonce')
    expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: key })).status).toBe(200)
  })

  it('MECHA_AUTH_FAILURE_LIMIT=0 turns the throttle off', async () => {
    const g = await harness({ ...AUTH_FAILURES, MECHA_AUTH_FAILURE_LIMIT: '0' })
    const key = await g.issue('alpha', { rate_limit: null })
    const hit = vi.spyOn(g.t.stores.rateLimiter, 'hit')
    for (let i = 0; i < 10; i++) expect((await fetch(`${g.base}/v1/whoami`)).status).toBe(401)
    expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: key })).status).toBe(200)
    expect(hit).not.toHaveBeenCalled()
  })
})
