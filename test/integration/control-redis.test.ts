import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { createRedisClient, waitForRedis } from '../../src/stores/redis/client.js'

/** MECHA_CONTROL_REDIS_URL: the control store on its own Redis, the data plane on REDIS_URL. */
describeWithRedis('the control store on its own Redis', () => {
  let data: RedisHandle
  let control: RedisHandle
  let h: GatewayHarness
  const clients: Redis[] = []
  const connect = async (url: string): Promise<Redis> => {
    const client = createRedisClient(url, { onError: () => {} })
    await waitForRedis(client, 5000)
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    ;[data, control] = await Promise.all([startRedis(), startRedis()])
    h = await gatewayHarness({ REDIS_URL: data.url, MECHA_CONTROL_REDIS_URL: control.url, MECHA_REDIS_PREFIX: 'split:' })
  })
  afterAll(async () => {
    await h?.close()
    for (const c of clients) c.disconnect()
    await Promise.all([data?.stop(), control?.stop()])
  })

  it('keeps mechas, keys and audit on the control Redis and inboxes and nonces on the data Redis', async () => {
    await h.register('alice')
    await h.register('bob')
    const alice = await h.issue('alice')
    expect((await h.send(alice, { to: 'bob', kind: 'hi', payload: 1 })).status).toBe(202)
    const [dataKeys, controlKeys] = await Promise.all([(await connect(data.url)).keys('split:*'), (await connect(control.url)).keys('split:*')])
    expect(controlKeys).toEqual(expect.arrayContaining(['split:mecha:alice', 'split:mecha:bob', `split:key:${alice.keyId}`, 'split:audit', 'split:audit-events']))
    expect(controlKeys.filter((k) => /inbox|nonce|ratelimit|replay/.test(k))).toEqual([])
    expect(dataKeys).toEqual(expect.arrayContaining(['split:inbox:bob', 'split:replay-epoch']))
    expect(dataKeys.filter((k) => /^split:(mecha|key|mechas|mecha-keys|audit)[:-]?/.test(k) && !k.startsWith('split:ratelimit:'))).toEqual([])
  })

  it('is not ready when the control Redis is down, and refuses operator writes with 503', async () => {
    await control.kill()
    try {
      expect((await h.t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503)
      const write = await h.t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id: 'carol' } })
      expect({ status: write.statusCode, reason: write.json().reason }).toEqual({ status: 503, reason: 'store_unavailable' })
    } finally {
      await control.restart()
    }
  })
})
