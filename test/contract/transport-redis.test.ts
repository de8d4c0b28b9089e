import { Cluster, type Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { RedisClient } from '../../src/stores/redis/client.js'
import { keySlot, RedisKeys } from '../../src/stores/redis/keys.js'
import type { RedisReplayCache } from '../../src/replay/redis.js'
import type { ReplayRules } from '../../src/replay/types.js'
import { RedisTransport } from '../../src/transport/redis.js'
import type { TransportOptions } from '../../src/transport/types.js'
import { describeWithRedis } from '../helpers/redis-server.js'
import { startedRedisReplayCache } from '../helpers/replay.js'
import { describeEachRedis, quit, sharedRedis, sharedRedisCluster, sharedRedisOf } from '../helpers/shared-redis.js'
import { describeWithRedisCluster } from '../helpers/redis-cluster.js'
import { acceptInput, acceptance, idempotency, message, sleep, transportContract, until, type TransportUnderTest } from './transport.contract.js'

interface Opened {
  prefix: string
  redis: RedisClient
  subscriber: RedisClient | undefined
  options: TransportOptions | undefined
}

/** Subscribers of each channel: classic pub/sub, or (cluster) sharded, counted on the masters. */
async function subscribers(client: RedisClient, channels: string[]): Promise<number[]> {
  if (!(client instanceof Cluster)) {
    const reply = (await client.pubsub('NUMSUB', ...channels)) as (string | number)[]
    return channels.map((_, i) => Number(reply[2 * i + 1]))
  }
  const counts = channels.map(() => 0)
  for (const node of client.nodes('master')) {
    for (const [i, channel] of channels.entries()) {
      const reply = (await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as (string | number)[]
      counts[i] = (counts[i] ?? 0) + Number(reply[1])
    }
  }
  return counts
}

/** Until the arrivals channel of each recipient under the prefix has a subscriber. */
async function subscribed(client: RedisClient, prefix: string, recipients: string[]): Promise<void> {
  const keys = new RedisKeys(prefix, client instanceof Cluster ? 'cluster' : 'standalone')
  const deadline = Date.now() + 5000
  for (;;) {
    const counts = await subscribers(client, recipients.map((r) => keys.arrivals(r)))
    if (counts.every((n) => n >= 1)) return
    if (Date.now() > deadline) throw new Error(`arrivals subscription not live on ${prefix}`)
    await sleep(10)
  }
}

describeEachRedis('RedisTransport', (kind) => {
  transportContract(`redis (${kind})`, () => {
    // Every transport gets its own prefix and its own connections.
    const fixture = sharedRedisOf(kind)
    const opened = new WeakMap<TransportUnderTest, Opened>()

    const openAt = async (prefix: string, options: TransportOptions | undefined, fresh: boolean): Promise<TransportUnderTest> => {
      const [redis, subscriber] = await Promise.all([fixture.connect(), fixture.connect({ sharded: true })])
      // Future skew 0, and no epoch yet (the first claim sets it), as the contract's epoch rows expect.
      const replayCache = await startedRedisReplayCache(redis, prefix, { maxFutureSkewSeconds: 0, emptyEpoch: fresh })
      const subject = {
        transport: new RedisTransport(redis, subscriber, prefix, { replay: replayCache.rules, ...options }),
        replayCache,
      }
      opened.set(subject, { prefix, redis, subscriber, options })
      return subject
    }
    const close = async (subject: TransportUnderTest): Promise<Opened> => {
      const o = opened.get(subject)
      if (o === undefined) throw new Error('unknown transport')
      await subject.transport.close()
      await subject.replayCache.close()
      await quit(o.subscriber)
      await quit(o.redis)
      return o
    }
    return {
      async open(options) {
        return openAt(fixture.newPrefix(), options, true)
      },
      async reopen(subject) {
        const o = await close(subject)
        return openAt(o.prefix, o.options, false)
      },
      async arrivalsLive(subject, recipients) {
        const o = opened.get(subject)
        if (o === undefined) throw new Error('unknown transport')
        await subscribed(o.redis, o.prefix, recipients)
      },
      async close(subject) {
        await close(subject)
      },
      teardown: fixture.teardown,
    }
  })

})

describeWithRedis('RedisTransport', () => {
  describe('Redis specifics', () => {
    const fixture = sharedRedis()
    const clients: Redis[] = []
    const transports: RedisTransport[] = []
    const connect = async (): Promise<Redis> => {
      const client = await fixture.connect()
      clients.push(client)
      return client
    }
    const rules = async (redis: Redis, prefix: string): Promise<{ replay: ReplayRules }> => {
      const cache = await startedRedisReplayCache(redis, prefix, { maxFutureSkewSeconds: 0 })
      caches.push(cache)
      return { replay: cache.rules }
    }
    const caches: RedisReplayCache[] = []
    afterEach(async () => {
      for (const t of transports.splice(0)) await t.close()
      for (const c of caches.splice(0)) await c.close()
      for (const c of clients.splice(0)) await quit(c)
    })
    afterAll(async () => { await fixture.teardown() })

    it('without a subscriber, listeners hear of what this instance accepts', async () => {
      const prefix = fixture.newPrefix()
      const redis = await connect()
      const local = new RedisTransport(redis, undefined, prefix, await rules(redis, prefix))
      const other = new RedisTransport(redis, undefined, prefix, await rules(redis, prefix))
      transports.push(local, other)
      let heard = 0
      local.onArrival('beta', () => heard++)
      await other.accept(acceptInput(message('alpha', 'beta')))
      expect(heard, 'accepted elsewhere: not announced').toBe(0)
      await local.accept(acceptInput(message('alpha', 'beta')))
      expect(heard).toBe(1)
    })

    it('with subscribers, an accept in one process wakes listeners in another', async () => {
      const prefix = fixture.newPrefix()
      const redis = await connect()
      const sender = new RedisTransport(redis, await connect(), prefix, await rules(redis, prefix))
      const receiver = new RedisTransport(redis, await connect(), prefix, await rules(redis, prefix))
      transports.push(sender, receiver)
      let heard = 0
      receiver.onArrival('beta', () => heard++)
      await subscribed(redis, prefix, ['beta'])
      await sender.accept(acceptInput(message('alpha', 'beta')))
      await until(() => heard === 1)
    })

    it('subscribes only to the recipients it has listeners for: an accept nobody waits for reaches no gateway', async () => {
      const prefix = fixture.newPrefix()
      const redis = await connect()
      const receiver = new RedisTransport(redis, await connect(), prefix, await rules(redis, prefix))
      transports.push(receiver)
      receiver.onArrival('beta', () => undefined)
      const stopGamma = receiver.onArrival('gamma', () => undefined)
      stopGamma()
      receiver.onArrival('gamma', () => undefined)
      await subscribed(redis, prefix, ['beta', 'gamma'])
      expect(((await redis.pubsub('CHANNELS', `${prefix}arrivals:*`)) as string[]).sort()).toEqual([`${prefix}arrivals:beta`, `${prefix}arrivals:gamma`])
      expect(await redis.publish(`${prefix}arrivals:delta`, 'delta'), 'no subscriber for a recipient nobody listens for').toBe(0)
    })

    it('holds only unacknowledged messages: ack deletes the entry and its id mapping', async () => {
      const prefix = fixture.newPrefix()
      const redis = await connect()
      const transport = new RedisTransport(redis, undefined, prefix, await rules(redis, prefix))
      transports.push(transport)
      const msgs = [message('alpha', 'beta'), message('alpha', 'beta')]
      for (const msg of msgs) await transport.accept(acceptInput(msg))
      expect(await redis.xlen(`${prefix}inbox:beta`)).toBe(2)
      await transport.read('beta', { limit: 10, visibilityMs: 1000, now: Date.now() })
      expect(await transport.ack('beta', msgs.map((m) => m.id))).toBe(2)
      expect(await redis.xlen(`${prefix}inbox:beta`)).toBe(0)
      expect(await redis.hlen(`${prefix}inbox-ids:beta`)).toBe(0)
      expect(await redis.zcard(`${prefix}inbox-due:beta`), 'the schedule').toBe(0)
      expect(await redis.exists(`${prefix}inbox-state:beta`), 'the delivery state').toBe(0)
      expect(await redis.exists(`${prefix}inbox-usage:beta`), 'the byte and per-sender counters go with the messages').toBe(0)
      const ttl = await redis.ttl((await redis.keys(`${prefix}nonce:*`))[0] ?? '')
      expect(ttl).toBeGreaterThan(0)
    })

    it('takes over an inbox an earlier version kept in a consumer group: nothing lost, the delivery count kept', async () => {
      const prefix = fixture.newPrefix()
      const redis = await connect()
      const stream = `${prefix}inbox:beta`
      const [delivered, waiting] = [message('alpha', 'beta'), message('alpha', 'beta')]
      // What the earlier accept and read wrote: a group, its pending list and the delivery-time index.
      await redis.xgroup('CREATE', stream, 'mecharim', '0', 'MKSTREAM')
      for (const msg of [delivered, waiting]) {
        const json = JSON.stringify(msg)
        const entry = await redis.xadd(stream, '*', 'm', json, 'f', 'alpha', 'n', String(Buffer.byteLength(json)))
        await redis.hset(`${prefix}inbox-ids:beta`, msg.id, entry ?? '')
      }
      await redis.xreadgroup('GROUP', 'mecharim', 'inbox', 'COUNT', 1, 'STREAMS', stream, '>')
      await redis.zadd(`${prefix}inbox-due:beta`, Date.now(), (await redis.hget(`${prefix}inbox-ids:beta`, delivered.id)) ?? '')
      const transport = new RedisTransport(redis, undefined, prefix, await rules(redis, prefix))
      transports.push(transport)

      const now = Date.now()
      const first = await transport.read('beta', { limit: 10, visibilityMs: 60_000, now })
      expect(first.messages, 'the one the group had not delivered').toEqual([{ ...waiting, delivery_count: 1 }])
      expect(await redis.xinfo('GROUPS', stream), 'the group is gone').toEqual([])
      const again = await transport.read('beta', { limit: 10, visibilityMs: 60_000, now: now + 61_000 })
      expect(again.messages).toEqual([{ ...delivered, delivery_count: 2 }, { ...waiting, delivery_count: 2 }])
      expect(await transport.ack('beta', [delivered.id, waiting.id])).toBe(2)
    })

    it('keeps the acceptance and the request digest in an idempotency record, never the message', async () => {
      const prefix = fixture.newPrefix()
      const redis = await connect()
      const transport = new RedisTransport(redis, undefined, prefix, await rules(redis, prefix))
      transports.push(transport)
      const msg = message('alpha', 'beta', { idempotency_key: 'order-9', payload: { secret: 'x'.repeat(1000) } })
      await transport.accept(acceptInput(msg, { idempotency: idempotency('order-9', 'c'.repeat(64)) }))
      const keys = await redis.keys(`${prefix}idem*`)
      expect(keys).toEqual([`${prefix}idempotency:alpha:order-9`])
      const record = JSON.parse((await redis.get(keys[0] ?? '')) ?? 'null')
      expect(record).toEqual({ acceptance: acceptance(msg), request_sha256: 'c'.repeat(64) })
      expect(await redis.ttl(keys[0] ?? '')).toBeGreaterThan(0)
    })
  })
})

describeWithRedisCluster('RedisTransport on a cluster: the contract\'s recipients', () => {
  const fixture = sharedRedisCluster()
  afterAll(async () => { await fixture.teardown() })

  it('spread over all three masters, so the contract exercises every shard', async () => {
    const cluster = await fixture.cluster()
    const keys = new RedisKeys('p:', 'cluster')
    const masters = await Promise.all(['beta', 'gamma', 'delta'].map((m) => cluster.masterFor(keySlot(keys.inbox(m)))))
    expect(new Set(masters).size).toBe(3)
  })
})
