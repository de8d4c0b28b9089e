import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import { OPERATORS, OPERATOR_TOKENS_JSON } from '../helpers/app.js'
import { spawnService, type ServiceProcess } from '../helpers/process.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { runtimeHeaders, type RuntimeCredentials } from '../helpers/runtime.js'

const AUTHORITY = 'gateway.test'

describeWithRedis('gateway on Redis: two processes sharing one Redis', () => {
  let redis: RedisHandle
  let a: ServiceProcess
  let b: ServiceProcess
  let signer: RuntimeCredentials
  let reader: RuntimeCredentials
  const cwd = mkdtempSync(join(tmpdir(), 'mecharim-gw-'))

  const operator = (svc: ServiceProcess, method: string, path: string, body?: object) => fetch(`${svc.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATORS.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  }).then(async (res) => ({ status: res.status, body: await res.json() }))

  const runtime = async (svc: ServiceProcess, method: string, url: string, credentials: RuntimeCredentials, body?: object, extraHeaders: Record<string, string> = {}) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const headers = runtimeHeaders({ method, url, credentials, authority: AUTHORITY, auth: credentials.signingSecret !== undefined ? 'hmac-sha256' : 'token', extraHeaders, ...(text !== undefined ? { body: text } : {}) })
    const res = await fetch(`${svc.url}${url}`, { method, headers, ...(text !== undefined ? { body: text } : {}) })
    return { status: res.status, body: await res.json() }
  }

  beforeAll(async () => {
    redis = await startRedis({ persist: true })
    const env = {
      PORT: '0', LOG_LEVEL: 'info', REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'two:', MECHA_PUBLIC_URL: `http://${AUTHORITY}`,
      MECHA_MASTER_KEY: randomBytes(32).toString('hex'), MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON, MECHA_VISIBILITY_TIMEOUT_SECONDS: '60',
      // 200 concurrent requests of a key not yet known at this address are 200 unauthenticated requests in flight:
      // the failed-authentication guard (limit 30 by default) would refuse most of them before evaluation.
      MECHA_AUTH_FAILURE_LIMIT: '1000',
      // Every Redis restart moves the replay epoch to now (a new run_id); a small future skew keeps the
      // wait before requests signed after it are accepted short.
      MECHA_MAX_FUTURE_SKEW_SECONDS: '1',
    }
    ;[a, b] = await Promise.all([spawnService(env, cwd), spawnService(env, cwd)])
    for (const id of ['alpha', 'beta']) expect((await operator(a, 'POST', '/v1/mechas', { id })).status).toBe(201)
    // A burst beyond MECHA_DEFAULT_KEY_RATE_LIMIT: this key is unlimited, as an explicit choice.
    const issued = (await operator(a, 'POST', '/v1/mechas/alpha/keys', { signature: { required: true, algorithms: ['hmac-sha256'] }, rate_limit: null })).body
    signer = { keyId: issued.key.id, signingSecret: issued.signing_secret }
    const betaKey = (await operator(b, 'POST', '/v1/mechas/beta/keys', {})).body
    reader = { keyId: betaKey.key.id, token: betaKey.token }
  })
  afterAll(async () => {
    for (const svc of [a, b]) svc?.child.kill('SIGKILL')
    await redis?.stop()
    rmSync(cwd, { recursive: true, force: true })
  })

  async function inbox(svc: ServiceProcess): Promise<{ id: string; payload: unknown }[]> {
    const res = await runtime(svc, 'GET', '/v1/inbox?limit=100', reader)
    expect(res.status).toBe(200)
    const ids = res.body.messages.map((m: { id: string }) => m.id)
    if (ids.length > 0) await runtime(svc, 'POST', '/v1/inbox/ack', reader, { ids })
    return res.body.messages
  }

  it('200 copies of one signed request fired at both processes at once: exactly one 202', async () => {
    const body = JSON.stringify({ to: 'beta', kind: 'race', payload: { n: 1 } })
    const headers = runtimeHeaders({ method: 'POST', url: '/v1/messages', body, credentials: signer, auth: 'hmac-sha256', authority: AUTHORITY })
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      fetch(`${(i % 2 === 0 ? a : b).url}/v1/messages`, { method: 'POST', headers, body }).then(async (res) => ({ status: res.status, body: await res.json() }))))
    expect(responses.filter((r) => r.status === 202)).toHaveLength(1)
    expect(responses.filter((r) => r.status === 401 && r.body.reason === 'replayed_nonce')).toHaveLength(199)
    expect((await inbox(b)).map((m) => m.payload)).toEqual([{ n: 1 }])
  })

  it('a key revoked through one process is refused by the other within a second', async () => {
    const issued = (await operator(a, 'POST', '/v1/mechas/alpha/keys', {})).body
    const key = { keyId: issued.key.id, token: issued.token }
    expect((await runtime(b, 'GET', '/v1/whoami', key)).status).toBe(200) // now cached in b
    expect((await operator(a, 'POST', `/v1/keys/${key.keyId}/revoke`)).status).toBe(200)
    const revokedAt = Date.now()
    let refusedAfter: number | undefined
    while (Date.now() - revokedAt < 3000) {
      const res = await runtime(b, 'GET', '/v1/whoami', key)
      if (res.status === 401) {
        refusedAfter = Date.now() - revokedAt
        expect(res.body.reason).toBe('invalid_key')
        break
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(refusedAfter).toBeDefined()
    expect(refusedAfter).toBeLessThan(1000)
  })

  it('a WebSocket open on one process closes (closing frame, 1008) within a second of a grace-0 rotation through the other', async () => {
    const issued = (await operator(a, 'POST', '/v1/mechas/beta/keys', {})).body
    const key = { keyId: issued.key.id, token: issued.token }
    const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials: key, authority: AUTHORITY })
    const socket = new WebSocket(`${b.url.replace('http', 'ws')}/v1/connect`, { headers })
    const frames: { type: string; reason?: string }[] = []
    socket.on('message', (data) => frames.push(JSON.parse(data.toString())))
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('unexpected-response', reject) })
    expect((await operator(a, 'POST', `/v1/keys/${key.keyId}/rotate`, { grace_seconds: 0 })).status).toBe(200)
    const result = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(r, 3000))])
    expect(result).toEqual({ code: 1008, reason: 'invalid_key' })
    expect(frames.find((f) => f.type === 'closing')).toMatchObject({ reason: 'invalid_key' })
  })

  it('Redis stopped: 503 and nothing delivered; Redis back: the same processes recover, and nonces recorded before the outage still count', async () => {
    // a request accepted before the outage, to replay after it
    const body = JSON.stringify({ to: 'beta', kind: 'before', payload: 'once' })
    const before = runtimeHeaders({ method: 'POST', url: '/v1/messages', body, credentials: signer, auth: 'hmac-sha256', authority: AUTHORITY })
    expect((await fetch(`${a.url}/v1/messages`, { method: 'POST', headers: before, body })).status).toBe(202)
    await redis.kill()
    const notReady = await fetch(`${a.url}/readyz`)
    expect(notReady.status).toBe(503)
    expect((await notReady.json()).code).toBe('UNAVAILABLE')
    for (const svc of [a, b]) {
      const res = await runtime(svc, 'POST', '/v1/messages', signer, { to: 'beta', kind: 'outage', payload: 'lost' })
      expect(res.status).toBe(503)
      expect(res.body.code).toBe('UNAVAILABLE')
      expect(['replay_cache_unavailable', 'transport_unavailable', 'store_unavailable']).toContain(res.body.reason)
    }
    await redis.restart()
    let recovered: { status: number } | undefined
    for (let i = 0; i < 100 && recovered?.status !== 202; i++) {
      await new Promise((r) => setTimeout(r, 100))
      recovered = await runtime(a, 'POST', '/v1/messages', signer, { to: 'beta', kind: 'after', payload: 'back' })
    }
    expect(recovered?.status).toBe(202)
    expect((await fetch(`${b.url}/readyz`)).status).toBe(200)
    const replay = await fetch(`${b.url}/v1/messages`, { method: 'POST', headers: before, body })
    // The restart gave Redis a new run_id, so the replay epoch moved: the request is refused as older
    // than the replay cache's memory, before its (still recorded) nonce is even looked at.
    expect({ status: replay.status, reason: (await replay.json()).reason }).toEqual({ status: 401, reason: 'stale_timestamp' })
    expect((await inbox(b)).map((m) => m.payload)).toEqual(['once', 'back'])
  })

  /**
   * A Redis killed mid-burst can have run an accept whose reply it never sent (appendfsync always writes
   * the AOF before replies): the gateway cannot tell that from a refused accept and answers 503, so a
   * 503 means "not known to be accepted". The guarantee is no loss and no duplicate for a sender that
   * retries a 503 with the same Idempotency-Key and body: the retry is accepted, or answered with the
   * original acceptance.
   */
  it('Redis killed during a burst: every 202 is delivered; a 503 retried with its Idempotency-Key is delivered exactly once', async () => {
    const burst = `burst-${Date.now()}`
    const send = (i: number, svc: ServiceProcess) =>
      runtime(svc, 'POST', '/v1/messages', signer, { to: 'beta', kind: 'burst', payload: i }, { 'idempotency-key': `"${burst}-${i}"` })
    const sends = Array.from({ length: 120 }, (_, i) => (async () => {
      await new Promise((r) => setTimeout(r, i * 2))
      const res = await send(i, i % 2 === 0 ? a : b)
      return { i, status: res.status, reason: res.body.reason as string | undefined }
    })())
    await new Promise((r) => setTimeout(r, 80))
    await redis.kill()
    const results = await Promise.all(sends)
    expect(results.every((r) => r.status === 202 || r.status === 503)).toBe(true)
    expect(results.some((r) => r.status === 202)).toBe(true)
    const refused = results.filter((r) => r.status === 503)
    expect(refused.length).toBeGreaterThan(0)
    for (const r of refused) expect(['replay_cache_unavailable', 'transport_unavailable', 'store_unavailable']).toContain(r.reason)
    await redis.restart()
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`${a.url}/readyz`)).status === 200 && (await fetch(`${b.url}/readyz`)).status === 200) break
      await new Promise((r) => setTimeout(r, 100))
    }
    // The sender retries every 503 with the same Idempotency-Key and body (and a fresh nonce).
    // The restart moved the replay epoch (new run_id): requests signed in its first second
    // (MECHA_MAX_FUTURE_SKEW_SECONDS=1) are refused as stale_timestamp, and re-signed.
    for (const r of refused) {
      let retry = await send(r.i, r.i % 2 === 0 ? b : a)
      for (let attempt = 0; attempt < 50 && retry.status === 401 && retry.body.reason === 'stale_timestamp'; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        retry = await send(r.i, r.i % 2 === 0 ? b : a)
      }
      expect({ i: r.i, status: retry.status }).toEqual({ i: r.i, status: 202 })
    }
    const delivered: unknown[] = []
    for (let batch = await inbox(b); batch.length > 0; batch = await inbox(b)) delivered.push(...batch.map((m) => m.payload))
    expect([...delivered].sort((x, y) => Number(x) - Number(y)), 'each message exactly once').toEqual(results.map((r) => r.i))
  })
})
