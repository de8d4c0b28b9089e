import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import { OPERATORS, OPERATOR_TOKENS_JSON } from '../helpers/app.js'
import { keySlot } from '../../src/stores/redis/keys.js'
import { spawnService, type ServiceProcess } from '../helpers/process.js'
import { describeWithRedisCluster, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js'
import { runtimeHeaders, type RuntimeCredentials } from '../helpers/runtime.js'

const AUTHORITY = 'gateway.test'
const PREFIX = 'cl:'

/**
 * The split roles on a real Redis Cluster (3 masters, 3 replicas), as the deployment docs run them:
 * two gateway processes and one control process, NODE_ENV=production, all on one
 * `redis+cluster://` seed list. Recipients are chosen on different masters.
 */
describeWithRedisCluster('the split roles on a Redis Cluster', () => {
  let cluster: RedisCluster
  let control: ServiceProcess
  let a: ServiceProcess
  let b: ServiceProcess
  const keys: Record<string, RuntimeCredentials> = {}
  const cwd = mkdtempSync(join(tmpdir(), 'mecharim-cluster-'))
  /** One recipient per master (slot ranges 0-5460, 5461-10922, 10923-16383 as redis-cli assigns them). */
  const recipients = ['gamma', 'delta', 'beta']

  const operator = (method: string, path: string, body?: object) => fetch(`${control.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATORS.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  }).then(async (res) => ({ status: res.status, body: await res.json() }))

  const signed = (method: string, url: string, credentials: RuntimeCredentials, body?: object, extraHeaders: Record<string, string> = {}) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const headers = runtimeHeaders({ method, url, credentials, authority: AUTHORITY, auth: credentials.signingSecret !== undefined ? 'hmac-sha256' : 'token', extraHeaders, ...(text !== undefined ? { body: text } : {}) })
    return { headers, body: text }
  }
  const runtime = async (svc: ServiceProcess, method: string, url: string, credentials: RuntimeCredentials, body?: object, extraHeaders: Record<string, string> = {}) => {
    const request = signed(method, url, credentials, body, extraHeaders)
    const res = await fetch(`${svc.url}${url}`, { method, headers: request.headers, ...(request.body !== undefined ? { body: request.body } : {}) })
    return { status: res.status, body: await res.json() }
  }
  /**
   * `runtime`, re-signed and retried while the answer is what a topology change gives for a moment:
   * 503 while the gateway re-checks the slots' epochs, then 401 stale_timestamp for a request signed
   * before its slot's epoch moved (docs/protocol.md, "The nonce contract").
   */
  const retrying = async (svc: ServiceProcess, method: string, url: string, credentials: RuntimeCredentials, body?: object, extraHeaders: Record<string, string> = {}) => {
    for (let attempt = 0; ; attempt++) {
      const res = await runtime(svc, method, url, credentials, body, extraHeaders)
      const transient = res.status === 503 || (res.status === 401 && res.body.reason === 'stale_timestamp')
      if (!transient || attempt >= 100) return res
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const drain = async (svc: ServiceProcess, mecha: string): Promise<{ id: string; payload: unknown; idempotency_key: string | null }[]> => {
    const all: { id: string; payload: unknown; idempotency_key: string | null }[] = []
    for (;;) {
      const res = await retrying(svc, 'GET', '/v1/inbox?limit=100', keys[mecha] as RuntimeCredentials)
      expect(res.status).toBe(200)
      if (res.body.messages.length === 0) return all
      all.push(...res.body.messages)
      expect((await retrying(svc, 'POST', '/v1/inbox/ack', keys[mecha] as RuntimeCredentials, { ids: res.body.messages.map((m: { id: string }) => m.id) })).status).toBe(200)
    }
  }
  const until = async (what: string, predicate: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const ready = async (svc: ServiceProcess): Promise<number> => (await fetch(`${svc.url}/readyz`)).status

  beforeAll(async () => {
    cluster = await startRedisCluster({ replicasPerMaster: 1 })
    const common = {
      NODE_ENV: 'production', MECHA_TLS: 'proxy', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', REDIS_URL: cluster.url, MECHA_REDIS_PREFIX: PREFIX,
      MECHA_PUBLIC_URL: `https://${AUTHORITY}`, MECHA_MASTER_KEY: randomBytes(32).toString('hex'), MECHA_VISIBILITY_TIMEOUT_SECONDS: '2',
      MECHA_AUTH_FAILURE_LIMIT: '1000', MECHA_MAX_FUTURE_SKEW_SECONDS: '1', MECHA_DURABILITY: 'memory', MECHA_METRICS: 'on',
    }
    control = await spawnService({ ...common, MECHA_ROLE: 'control', MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON }, cwd, 30_000)
    ;[a, b] = await Promise.all([spawnService({ ...common, MECHA_ROLE: 'gateway' }, cwd, 30_000), spawnService({ ...common, MECHA_ROLE: 'gateway' }, cwd, 30_000)])
    const masters = new Set(await Promise.all(recipients.map((m) => cluster.masterFor(`{${m}}`))))
    expect(masters.size, 'the recipients are on three different masters').toBe(3)
    for (const id of ['alpha', ...recipients]) {
      expect((await operator('POST', '/v1/mechas', { id })).status).toBe(201)
      const issued = (await operator('POST', `/v1/mechas/${id}/keys`, id === 'alpha' ? { signature: { required: true, algorithms: ['hmac-sha256'] }, rate_limit: null } : { rate_limit: null })).body
      keys[id] = id === 'alpha' ? { keyId: issued.key.id, signingSecret: issued.signing_secret } : { keyId: issued.key.id, token: issued.token }
    }
  }, 120_000)
  afterAll(async () => {
    for (const svc of [a, b, control]) svc?.child.kill('SIGKILL')
    await cluster?.stop()
    rmSync(cwd, { recursive: true, force: true })
  })

  it('serves each role its routes only: a gateway answers no operator route, the control process no runtime route', async () => {
    const asGateway = await fetch(`${a.url}/v1/mechas`, { headers: { authorization: `Bearer ${OPERATORS.admin}` } })
    expect(asGateway.status).toBe(404)
    expect((await runtime(control, 'GET', '/v1/whoami', keys.beta as RuntimeCredentials)).status).toBe(404)
    for (const svc of [a, b, control]) expect(await ready(svc)).toBe(200)
  })

  it('sends to a recipient on each master, long-poll and WebSocket receive, ack, redelivery', async () => {
    // WebSocket push on b for delta's messages, sent through a.
    const connect = signed('GET', '/v1/connect', keys.delta as RuntimeCredentials)
    const socket = new WebSocket(`${b.url.replace('http', 'ws')}/v1/connect`, { headers: connect.headers })
    const pushed: { type: string; message?: { id: string; payload: unknown } }[] = []
    socket.on('message', (data) => pushed.push(JSON.parse(data.toString())))
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('unexpected-response', reject) })
    // A long-poll on a for gamma, woken by a send through b.
    const poll = runtime(a, 'GET', '/v1/inbox?wait=20', keys.gamma as RuntimeCredentials)
    await new Promise((r) => setTimeout(r, 300))
    for (const to of recipients) {
      const sent = await runtime(to === 'gamma' ? b : a, 'POST', '/v1/messages', keys.alpha as RuntimeCredentials, { to, kind: 'hello', payload: { to } })
      expect(sent.status, JSON.stringify(sent.body)).toBe(202)
    }
    let polled = await poll
    expect(polled.status).toBe(200)
    if (polled.body.messages.length === 0) {
      // Known limit (docs/security.md): right after a gateway starts, a cluster's sharded subscriber
      // for a slot may not be live yet, and the arrival announcement is lost; the message waits for
      // the next poll (or the 30 s safety read). Delivery itself must not be lost.
      polled = await runtime(a, 'GET', '/v1/inbox', keys.gamma as RuntimeCredentials)
    }
    expect(polled.body.messages.map((m: { payload: unknown }) => m.payload)).toEqual([{ to: 'gamma' }])
    // Woken by the arrival, or (the known limit above) by the socket's 30 s safety read.
    await until('the push', async () => pushed.some((f) => f.type === 'message'), 45_000)
    const frame = pushed.find((f) => f.type === 'message')
    expect(frame?.message?.payload).toEqual({ to: 'delta' })
    socket.send(JSON.stringify({ type: 'ack', ids: [frame?.message?.id] }))
    // beta's message: read, not acknowledged, redelivered after the 2 s visibility timeout.
    const first = await runtime(b, 'GET', '/v1/inbox', keys.beta as RuntimeCredentials)
    expect(first.body.messages).toHaveLength(1)
    expect(first.body.messages[0].delivery_count).toBe(1)
    let redelivered: { id: string } | undefined
    await until('the redelivery', async () => {
      const again = await runtime(a, 'GET', '/v1/inbox', keys.beta as RuntimeCredentials)
      if (again.body.messages.length === 1 && again.body.messages[0].delivery_count === 2) redelivered = again.body.messages[0]
      return redelivered !== undefined
    })
    expect((await runtime(b, 'POST', '/v1/inbox/ack', keys.beta as RuntimeCredentials, { ids: [redelivered?.id] })).body).toMatchObject({ acknowledged: 1 })
    expect((await runtime(a, 'POST', '/v1/inbox/ack', keys.gamma as RuntimeCredentials, { ids: [polled.body.messages[0].id] })).body).toMatchObject({ acknowledged: 1 })
    socket.close()
    for (const m of recipients) await drain(a, m)
  }, 120_000)

  it('200 copies of one signed request across both gateways: exactly one 202', async () => {
    const request = signed('POST', '/v1/messages', keys.alpha as RuntimeCredentials, { to: 'beta', kind: 'race', payload: { n: 1 } })
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      fetch(`${(i % 2 === 0 ? a : b).url}/v1/messages`, { method: 'POST', headers: request.headers, body: request.body }).then(async (res) => ({ status: res.status, body: await res.json() }))))
    expect(responses.filter((r) => r.status === 202)).toHaveLength(1)
    expect(responses.filter((r) => r.status === 401 && r.body.reason === 'replayed_nonce')).toHaveLength(199)
    expect((await drain(b, 'beta')).map((m) => m.payload)).toEqual([{ n: 1 }])
  })

  it('a key revoked through the control process is refused by both gateways within a second', async () => {
    const issued = (await operator('POST', '/v1/mechas/beta/keys', {})).body
    const key = { keyId: issued.key.id, token: issued.token }
    for (const svc of [a, b]) expect((await runtime(svc, 'GET', '/v1/whoami', key)).status).toBe(200) // cached in both
    expect((await operator('POST', `/v1/keys/${key.keyId}/revoke`)).status).toBe(200)
    const revokedAt = Date.now()
    for (const svc of [a, b]) {
      let refusedAfter: number | undefined
      while (Date.now() - revokedAt < 3000) {
        const res = await runtime(svc, 'GET', '/v1/whoami', key)
        if (res.status === 401) {
          refusedAfter = Date.now() - revokedAt
          break
        }
        await new Promise((r) => setTimeout(r, 10))
      }
      expect(refusedAfter).toBeLessThan(1000)
    }
  })

  /**
   * Sends `count` messages to `to`, each with its own Idempotency-Key, alternating gateways, while
   * `fault` runs; a 503 is retried with the same key (and a fresh signature) until it is a 202, and so
   * is a 401 stale_timestamp: a request signed shortly before the replay epoch of its slot moved (a
   * failover, a migrated slot) is refused, by design. Returns every outcome seen.
   */
  const sendLoop = async (to: string, count: number, fault: () => Promise<void>): Promise<{ statuses: string[]; keysSent: string[] }> => {
    const statuses: string[] = []
    const keysSent: string[] = []
    let faultDone = false
    const faulting = fault().finally(() => { faultDone = true })
    for (let i = 0; i < count || !faultDone; i++) {
      const idempotencyKey = `loop-${randomUUID()}`
      keysSent.push(idempotencyKey)
      for (let attempt = 0; ; attempt++) {
        const res = await runtime(i % 2 === 0 ? a : b, 'POST', '/v1/messages', keys.alpha as RuntimeCredentials, { to, kind: 'loop', payload: { i } }, { 'idempotency-key': idempotencyKey })
        statuses.push(res.status === 202 ? '202' : `${res.status} ${res.body.reason}`)
        if (res.status === 202) break
        expect([503, 401], JSON.stringify(res.body)).toContain(res.status)
        if (res.status === 401) expect(res.body.reason).toBe('stale_timestamp')
        if (attempt > 600) throw new Error('no recovery after 60 s of retries')
        await new Promise((r) => setTimeout(r, 100))
      }
      if (i > 10_000) throw new Error('the fault never finished')
    }
    await faulting
    return { statuses, keysSent }
  }

  it('a manual failover of a recipient\'s master during a send loop: 202 or 503, never a 500; every message delivered once; a request signed before it refused', async () => {
    const master = await cluster.masterFor(`{beta}`)
    const before = signed('POST', '/v1/messages', keys.alpha as RuntimeCredentials, { to: 'beta', kind: 'signed-before', payload: null })
    await new Promise((r) => setTimeout(r, 2100)) // older than the epoch a failover sets, by more than the 1 s skew
    const { statuses, keysSent } = await sendLoop('beta', 30, async () => { await cluster.failover(master) })
    expect(statuses.filter((s) => !/^(202|503 \w+|401 stale_timestamp)$/.test(s))).toEqual([])
    await until('both gateways ready', async () => (await ready(a)) === 200 && (await ready(b)) === 200)
    const late = await fetch(`${a.url}/v1/messages`, { method: 'POST', headers: before.headers, body: before.body })
    expect({ status: late.status, reason: (await late.json()).reason }).toEqual({ status: 401, reason: 'stale_timestamp' })
    const delivered = await drain(b, 'beta')
    expect(delivered.map((m) => m.idempotency_key).sort()).toEqual([...keysSent].sort())
  }, 120_000)

  it('a long-poll waiting across a failover of its mecha\'s master is woken by the next message', async () => {
    const master = await cluster.masterFor('{beta}')
    const poll = runtime(b, 'GET', '/v1/inbox?wait=25', keys.beta as RuntimeCredentials)
    await new Promise((r) => setTimeout(r, 300))
    await cluster.failover(master)
    await until('both gateways ready', async () => (await ready(a)) === 200 && (await ready(b)) === 200)
    let sent: { status: number } | undefined
    for (let i = 0; i < 50 && sent?.status !== 202; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100))
      sent = await runtime(a, 'POST', '/v1/messages', keys.alpha as RuntimeCredentials, { to: 'beta', kind: 'after-failover', payload: 'woken' }, { 'idempotency-key': 'after-failover' })
    }
    expect(sent?.status).toBe(202)
    const polled = await poll
    expect(polled.status).toBe(200)
    expect(polled.body.messages.map((m: { payload: unknown }) => m.payload)).toEqual(['woken'])
    await drain(a, 'beta')
  }, 60_000)

  it('kill -9 of a master during a send loop: 503 while its replica takes over, never a 500, recovery without a restart, nothing lost or doubled', async () => {
    const master = await cluster.masterFor(`{gamma}`)
    const { statuses, keysSent } = await sendLoop('gamma', 20, async () => {
      await new Promise((r) => setTimeout(r, 200))
      await cluster.kill(master, 'SIGKILL')
      await until('a replica promoted', async () => (await cluster.masterFor(`{gamma}`).catch(() => master)) !== master, 60_000)
      await cluster.waitUntilHealthy(60_000).catch(() => undefined)
    })
    expect(statuses.filter((s) => !/^(202|503 \w+|401 stale_timestamp)$/.test(s))).toEqual([])
    expect(statuses.some((s) => s.startsWith('503'))).toBe(true)
    await until('both gateways ready', async () => (await ready(a)) === 200 && (await ready(b)) === 200, 60_000)
    const delivered = await drain(a, 'gamma')
    // A 202 from the old master that its replica never received would be lost here: with the replica
    // in sync (no writes in flight when it died) every acknowledged message is delivered exactly once.
    expect(new Set(delivered.map((m) => m.idempotency_key)).size).toBe(delivered.length)
    expect(delivered.map((m) => m.idempotency_key).sort()).toEqual([...keysSent].sort())
  }, 180_000)

  it('a slot migration during a send loop: no message lost or duplicated', async () => {
    const slot = keySlot('{delta}')
    const from = await cluster.masterFor(slot)
    const to = (await cluster.masterFor(0)) === from ? await cluster.masterFor(16383) : await cluster.masterFor(0)
    const { statuses, keysSent } = await sendLoop('delta', 40, async () => {
      await new Promise((r) => setTimeout(r, 300))
      await cluster.migrateSlot(slot, from, to)
    })
    expect(statuses.filter((s) => !/^(202|503 \w+|401 stale_timestamp)$/.test(s))).toEqual([])
    expect(await cluster.masterFor(slot)).toBe(to)
    const delivered = await drain(b, 'delta')
    expect(delivered.map((m) => m.idempotency_key).sort()).toEqual([...keysSent].sort())
  }, 120_000)

  it('/readyz is 503 while a master answers nothing (and the cluster is down), 200 again when it is back; runtime writes to its slots are 503 meanwhile', async () => {
    // gamma's master is the replica promoted above: it has no replica left, so nothing takes over.
    const master = await cluster.masterFor('{gamma}')
    await cluster.pause(master)
    try {
      await until('readyz 503 on both gateways', async () => (await ready(a)) === 503 && (await ready(b)) === 503, 30_000)
      const res = await runtime(a, 'POST', '/v1/messages', keys.alpha as RuntimeCredentials, { to: 'gamma', kind: 'down', payload: null })
      expect(res.status).toBe(503)
    } finally {
      await cluster.resume(master)
    }
    await until('readyz 200 on both gateways', async () => (await ready(a)) === 200 && (await ready(b)) === 200, 60_000)
    const res = await retrying(b, 'POST', '/v1/messages', keys.alpha as RuntimeCredentials, { to: 'gamma', kind: 'up', payload: null }, { 'idempotency-key': 'up' })
    expect(res.status).toBe(202)
    expect((await drain(a, 'gamma')).map((m) => m.payload)).toEqual([null])
  }, 120_000)
})
