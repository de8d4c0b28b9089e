import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { formatToken } from '../../src/crypto/token.js'
import { OPERATORS, OPERATOR_TOKENS_JSON } from '../helpers/app.js'
import { spawnService, type ServiceProcess } from '../helpers/process.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { runtimeHeaders, type RuntimeCredentials } from '../helpers/runtime.js'

const AUTHORITY = 'gateway.test'

describeWithRedis('rate limits on Redis: two processes share every budget', () => {
  let redis: RedisHandle
  let a: ServiceProcess
  let b: ServiceProcess
  const cwd = mkdtempSync(join(tmpdir(), 'mecharim-rl-'))

  const operator = async (svc: ServiceProcess, method: string, path: string, body?: object) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${OPERATORS.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    return { status: res.status, body: await res.json() }
  }

  const runtime = async (svc: ServiceProcess, method: string, url: string, credentials: RuntimeCredentials, options: { body?: object; headers?: Record<string, string> } = {}) => {
    const text = options.body === undefined ? undefined : JSON.stringify(options.body)
    const headers = { ...runtimeHeaders({ method, url, credentials, authority: AUTHORITY, ...(text !== undefined ? { body: text } : {}) }), ...options.headers }
    const res = await fetch(`${svc.url}${url}`, { method, headers, ...(text !== undefined ? { body: text } : {}) })
    return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') }
  }

  async function issue(body: object): Promise<RuntimeCredentials> {
    const issued = (await operator(a, 'POST', '/v1/mechas/alpha/keys', body)).body
    return { keyId: issued.key.id, token: issued.token }
  }

  async function drain(): Promise<unknown[]> {
    const reader = await issue({})
    const res = await runtime(b, 'GET', '/v1/inbox?limit=100', reader)
    expect(res.status).toBe(200)
    const ids = res.body.messages.map((m: { id: string }) => m.id)
    if (ids.length > 0) expect((await runtime(a, 'POST', '/v1/inbox/ack', reader, { body: { ids } })).status).toBe(200)
    return res.body.messages.map((m: { payload: unknown }) => m.payload)
  }

  beforeAll(async () => {
    redis = await startRedis()
    const env = {
      PORT: '0', LOG_LEVEL: 'info', REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'rl:', MECHA_PUBLIC_URL: `http://${AUTHORITY}`,
      MECHA_MASTER_KEY: randomBytes(32).toString('hex'), MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON,
      // The failed-authentication test gives its client its own address through X-Forwarded-For.
      MECHA_TRUST_PROXY: 'true', MECHA_AUTH_FAILURE_LIMIT: '4', MECHA_AUTH_FAILURE_WINDOW_SECONDS: '60',
      // This Redis runs without persistence.
      MECHA_DURABILITY: 'memory',
    }
    ;[a, b] = await Promise.all([spawnService(env, cwd), spawnService(env, cwd)])
    // alpha sends, and reads its own inbox: one mecha is enough.
    expect((await operator(a, 'POST', '/v1/mechas', { id: 'alpha' })).status).toBe(201)
  })
  afterAll(async () => {
    for (const svc of [a, b]) svc?.child.kill('SIGKILL')
    await redis?.stop()
    rmSync(cwd, { recursive: true, force: true })
  })

  it('a key allowed 5 requests per minute, requests alternating between the processes: 5 accepted in all', async () => {
    const key = await issue({ rate_limit: { requests: 5, per_seconds: 60 } })
    const statuses: number[] = []
    for (let n = 0; n < 12; n++) {
      const res = await runtime(n % 2 === 0 ? a : b, 'POST', '/v1/messages', key, { body: { to: 'alpha', kind: 'count', payload: n } })
      statuses.push(res.status)
      if (res.status === 429) {
        expect(res.body.reason).toBe('rate_limited')
        expect(Number(res.retryAfter)).toBeGreaterThanOrEqual(1)
        expect(res.body.retry_after).toBe(Number(res.retryAfter))
      }
    }
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429, 429, 429, 429, 429, 429])
    expect(await drain()).toEqual([0, 1, 2, 3, 4])
  })

  it('30 concurrent requests of a key allowed 10, fired at both processes at once: exactly 10 accepted', async () => {
    const key = await issue({ rate_limit: { requests: 10, per_seconds: 60 } })
    const responses = await Promise.all(Array.from({ length: 30 }, async (_, n) =>
      runtime(n % 2 === 0 ? a : b, 'POST', '/v1/messages', key, { body: { to: 'alpha', kind: 'burst', payload: n } })))
    expect(responses.filter((r) => r.status === 202)).toHaveLength(10)
    expect(responses.filter((r) => r.status === 429 && r.body.reason === 'rate_limited')).toHaveLength(20)
    expect(await drain()).toHaveLength(10)
  })

  it('failed authentications counted by one process throttle the address on the other', async () => {
    const key = await issue({})
    const from = { 'x-forwarded-for': '203.0.113.7' }
    const wrong = { keyId: key.keyId, token: formatToken(key.keyId, 'a'.repeat(52)) }
    // Four failures, two per process: the fourth (on b) reaches the limit.
    for (const svc of [a, b, a, b]) expect((await runtime(svc, 'GET', '/v1/whoami', wrong, { headers: from })).status).toBe(401)
    expect((await runtime(b, 'GET', '/v1/whoami', key, { headers: from })).body.reason).toBe('rate_limited')
    // a has not counted a failure since the limit was reached, so it does not know yet: its next failure
    // tells it (the one extra attempt per process the design allows), and from then on it refuses too.
    expect((await runtime(a, 'GET', '/v1/whoami', wrong, { headers: from })).status).toBe(401)
    expect((await runtime(a, 'GET', '/v1/whoami', key, { headers: from })).body.reason).toBe('rate_limited')
    const operatorRes = await fetch(`${a.url}/v1/mechas`, { headers: { authorization: `Bearer ${OPERATORS.admin}`, ...from } })
    expect(operatorRes.status).toBe(429)
    // Other addresses are not affected.
    expect((await runtime(a, 'GET', '/v1/whoami', key)).status).toBe(200)
    expect((await runtime(b, 'GET', '/v1/whoami', key, { headers: { 'x-forwarded-for': '203.0.113.8' } })).status).toBe(200)
  })
})
