import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OPERATORS, OPERATOR_TOKENS_JSON } from '../helpers/app.js'
import { spawnService, type ServiceProcess } from '../helpers/process.js'
import { describeWithRedisCluster, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { runtimeHeaders, type RuntimeCredentials } from '../helpers/runtime.js'

const AUTHORITY = 'gateway.test'
const RACERS = 24
const MAX_OPEN = 3

/**
 * `permissions.sessions.max_open` holds across instances: two gateway processes on one Redis (and on a
 * Redis Cluster) race one key's session starts; exactly max_open are started, the rest are 429.
 */
function raceSuite(redisUrl: () => string): void {
  let a: ServiceProcess
  let b: ServiceProcess
  let key: RuntimeCredentials
  const cwd = mkdtempSync(join(tmpdir(), 'mecharim-sessions-race-'))

  const operator = (svc: ServiceProcess, method: string, path: string, body?: object) => fetch(`${svc.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATORS.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  }).then(async (res) => ({ status: res.status, body: await res.json() }))
  const runtime = async (svc: ServiceProcess, method: string, url: string, body?: object, nonce?: string) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const headers = runtimeHeaders({ method, url, credentials: key, authority: AUTHORITY, auth: 'token', ...(text !== undefined ? { body: text } : {}), ...(nonce !== undefined ? { nonce } : {}) })
    const res = await fetch(`${svc.url}${url}`, { method, headers, ...(text !== undefined ? { body: text } : {}) })
    return { status: res.status, body: await res.json() }
  }

  beforeAll(async () => {
    const env = {
      PORT: '0', LOG_LEVEL: 'info', REDIS_URL: redisUrl(), MECHA_REDIS_PREFIX: 'race:', MECHA_PUBLIC_URL: `http://${AUTHORITY}`,
      MECHA_MASTER_KEY: randomBytes(32).toString('hex'), MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON,
      MECHA_AUTH_FAILURE_LIMIT: '1000', MECHA_MAX_FUTURE_SKEW_SECONDS: '1',
      // Not about durability: the test's Redis keeps no append-only file.
      MECHA_DURABILITY: 'memory',
    }
    ;[a, b] = await Promise.all([spawnService(env, cwd, 30_000), spawnService(env, cwd, 30_000)])
    for (const id of ['alpha', 'beta']) expect((await operator(a, 'POST', '/v1/mechas', { id })).status).toBe(201)
    expect((await operator(a, 'PUT', '/v1/modes/decision.v1', { kinds: ['vote'], version: 1 })).status).toBe(201)
    const issued = (await operator(a, 'POST', '/v1/mechas/alpha/keys', { permissions: { sessions: { max_open: MAX_OPEN } }, rate_limit: null })).body
    key = { keyId: issued.key.id, token: issued.token }
  }, 60_000)
  afterAll(async () => {
    for (const svc of [a, b]) svc?.child.kill('SIGKILL')
    await Promise.all([a, b].map((svc) => svc?.exited))
    rmSync(cwd, { recursive: true, force: true })
  })

  it(`${RACERS} concurrent starts through two processes: exactly ${MAX_OPEN} open, the rest 429 too_many_open_sessions`, async () => {
    const body = { mode: 'decision.v1', participants: ['beta'], ttl_seconds: 600 }
    // Both processes see the key and the mode before the race (their caches fill from the shared store).
    await expect.poll(async () => (await runtime(b, 'GET', '/v1/sessions')).status, { timeout: 10_000 }).toBe(200)
    const results = await Promise.all(Array.from({ length: RACERS }, (_, i) => runtime(i % 2 === 0 ? a : b, 'POST', '/v1/sessions', body)))
    const started = results.filter((r) => r.status === 201)
    expect(started.length, JSON.stringify(results.filter((r) => r.status !== 201 && r.status !== 429))).toBe(MAX_OPEN)
    expect(results.filter((r) => r.status === 429).map((r) => r.body.reason)).toEqual(Array(RACERS - MAX_OPEN).fill('too_many_open_sessions'))
    // Each process sees the others' sessions: the three are listed as open from both.
    for (const svc of [a, b]) {
      const open = (await runtime(svc, 'GET', '/v1/sessions?state=open')).body.sessions.map((s: { id: string }) => s.id).sort()
      expect(open).toEqual(started.map((r) => r.body.id).sort())
    }
    // A commit through one process frees a slot for a start through the other.
    expect((await runtime(a, 'POST', `/v1/sessions/${started[0]?.body.id}/commit`, { outcome: 'done' })).status).toBe(200)
    expect((await runtime(b, 'POST', '/v1/sessions', body)).status).toBe(201)
    expect((await runtime(a, 'POST', '/v1/sessions', body)).body.reason).toBe('too_many_open_sessions')
  }, 60_000)

  it('a session message sent to every participant, replayed after the session closed, is a replay (the nonce rule holds on every layout)', async () => {
    for (const id of ['gamma']) await operator(a, 'POST', '/v1/mechas', { id })
    const issued = (await operator(a, 'POST', '/v1/mechas/alpha/keys', { rate_limit: null })).body
    key = { keyId: issued.key.id, token: issued.token }
    const session = (await runtime(a, 'POST', '/v1/sessions', { mode: 'decision.v1', participants: ['beta', 'gamma'], ttl_seconds: 600 })).body
    const nonce = `fanout-replay-${randomBytes(8).toString('hex')}`
    const message = { session: session.id, kind: 'vote', payload: 1 }
    const sent = await runtime(a, 'POST', '/v1/messages', message, nonce)
    expect(sent.status).toBe(202)
    expect(sent.body.messages.map((m: { to: string }) => m.to)).toEqual(['beta', 'gamma'])
    expect((await runtime(b, 'POST', `/v1/sessions/${session.id}/commit`, { outcome: 'done' })).status).toBe(200)
    const replayed = await runtime(b, 'POST', '/v1/messages', message, nonce)
    expect([replayed.status, replayed.body.reason]).toEqual([401, 'replayed_nonce'])
  }, 60_000)
}

describeWithRedis('sessions: max_open across two gateway processes on one Redis', () => {
  let redis: RedisHandle | undefined
  beforeAll(async () => { redis = await startRedis() })
  afterAll(async () => { await redis?.stop() })
  describe('standalone', () => raceSuite(() => (redis as RedisHandle).url))
})

describeWithRedisCluster('sessions: max_open across two gateway processes on a Redis Cluster', () => {
  let cluster: RedisCluster | undefined
  beforeAll(async () => { cluster = await startRedisCluster() }, 120_000)
  afterAll(async () => { await cluster?.stop() })
  describe('cluster', () => raceSuite(() => (cluster as RedisCluster).url))
})
