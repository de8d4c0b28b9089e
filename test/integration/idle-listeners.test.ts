import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { runtimeHeaders } from '../helpers/runtime.js'

/**
 * Idle listeners do not poll (issue 10, item 5; regression: every waiting long-poll and WebSocket
 * re-read its inbox every second). Inbox reads are counted on the server: every run of the READ
 * script on an existing inbox calls XAUTOCLAIM exactly once when nothing is pending.
 */
const SETTLE_MS = 1000
const IDLE_MS = 4000

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

async function commandCalls(redis: Redis, command: string): Promise<number> {
  const stats = await redis.info('commandstats')
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0)
}

interface Frame { type: string; message?: { id: string; delivery_count: number } }

describeWithRedis('idle listeners wake on events, not on a timer', () => {
  let redis: RedisHandle
  let stats: Redis
  let h: GatewayHarness
  let alpha: IssuedRuntime
  let beta: IssuedRuntime
  let gamma: IssuedRuntime

  beforeAll(async () => {
    redis = await startRedis()
    stats = new Redis(redis.url, { lazyConnect: true })
    await stats.connect()
    h = await gatewayHarness({ REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'idle:', MECHA_VISIBILITY_TIMEOUT_SECONDS: '1' })
    for (const id of ['alpha', 'beta', 'gamma']) await h.register(id)
    ;[alpha, beta, gamma] = await Promise.all([h.issue('alpha'), h.issue('beta'), h.issue('gamma')])
    // Give both inboxes a stream (an inbox that never held a message is not even looked at).
    for (const recipient of [beta, gamma]) {
      const sent = await h.send(alpha, { to: recipient.mecha, kind: 'k', payload: 'warm-up' })
      expect(sent.status).toBe(202)
      expect((await h.call({ method: 'GET', url: '/v1/inbox', credentials: recipient })).body.messages).toHaveLength(1)
      const acked = await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids: [sent.body.id] }), credentials: recipient })
      expect(acked.body).toEqual({ acknowledged: 1 })
    }
  })
  afterAll(async () => {
    await h?.close()
    stats?.disconnect()
    await redis?.stop()
  })

  function connect(credentials: IssuedRuntime): Promise<{ socket: WebSocket; frames: Frame[] }> {
    const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials, authority: h.t.config.publicAuthority })
    const socket = new WebSocket(`${h.base.replace('http', 'ws')}/v1/connect`, { headers })
    const frames: Frame[] = []
    socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as Frame))
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve({ socket, frames }))
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    })
  }

  it('a long-poll (wait=30) and a WebSocket make a bounded number of reads while idle, wake on an arrival, and still get a redelivery', async () => {
    const { socket, frames } = await connect(gamma)
    try {
      const poll = h.call({ method: 'GET', url: '/v1/inbox?wait=30', credentials: beta })
      // Their first reads, and the one each makes when its arrival subscription goes live.
      await sleep(SETTLE_MS)
      await stats.config('RESETSTAT')
      await sleep(IDLE_MS)
      const idleReads = await commandCalls(stats, 'xautoclaim')
      // Re-reading every second, the two would make about eight; waking on events they make none.
      expect(idleReads, `inbox reads by two idle listeners in ${IDLE_MS} ms`).toBeLessThanOrEqual(2)

      // An arrival wakes each (well before any 30 s safety read).
      const toBeta = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'for the long-poll' })
      const polled = await poll
      expect(polled.status).toBe(200)
      expect(polled.body.messages.map((m: { id: string; delivery_count: number }) => [m.id, m.delivery_count])).toEqual([[toBeta.body.id, 1]])
      const toGamma = await h.send(alpha, { to: 'gamma', kind: 'k', payload: 'for the socket' })
      await expect.poll(() => frames.find((f) => f.type === 'message' && f.message?.id === toGamma.body.id), { timeout: 10_000 }).toBeDefined()

      // Not acknowledged: after the 1 s visibility timeout both are delivered again, with no arrival.
      const again = await h.call({ method: 'GET', url: '/v1/inbox?wait=30', credentials: beta })
      expect(again.body.messages.map((m: { id: string; delivery_count: number }) => [m.id, m.delivery_count])).toEqual([[toBeta.body.id, 2]])
      await expect.poll(() => frames.find((f) => f.type === 'message' && f.message?.id === toGamma.body.id && f.message?.delivery_count === 2), { timeout: 10_000 }).toBeDefined()
    } finally {
      socket.close()
    }
  })
}, { ownServer: true })

