import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DependencyUnavailableError, type Dependency } from '../../src/errors/faults.js'
import type { RedisReplayCache } from '../../src/replay/redis.js'
import { createRedisClient, waitForRedis } from '../../src/stores/redis/client.js'
import { RedisTransport } from '../../src/transport/redis.js'
import { acceptInput, claim, message, sleep, until } from '../contract/transport.contract.js'
import { startedRedisReplayCache } from '../helpers/replay.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'

/** A command refused while Redis is down must come back well before the 2 s command timeout. */
const PROMPT_MS = 1000
const READ = { limit: 10, visibilityMs: 30_000 } as const

describeWithRedis('RedisTransport and RedisReplayCache when Redis goes away', () => {
  const prefix = `mecharim-faults:${randomUUID()}:`
  let server: RedisHandle
  let redis: Redis
  let subscriber: Redis
  let transport: RedisTransport
  let replayCache: RedisReplayCache

  const listening = async (): Promise<void> => {
    const deadline = Date.now() + 10_000
    for (;;) {
      const [, count] = (await redis.pubsub('NUMSUB', `${prefix}arrivals:beta`).catch(() => ['', 0])) as [string, number]
      if (Number(count) >= 1) return
      if (Date.now() > deadline) throw new Error('arrivals subscription not restored')
      await sleep(50)
    }
  }

  beforeAll(async () => {
    server = await startRedis()
    redis = createRedisClient(server.url, { onError: () => {} })
    subscriber = createRedisClient(server.url, { onError: () => {} })
    await Promise.all([waitForRedis(redis, 5000), waitForRedis(subscriber, 5000)])
    // Future skew 0: this suite is about the outage; the skew has its own tests (replay-loss.test.ts).
    replayCache = await startedRedisReplayCache(redis, prefix, { maxFutureSkewSeconds: 0 })
    transport = new RedisTransport(redis, subscriber, prefix, { replay: replayCache.rules })
  })
  afterAll(async () => {
    await transport?.close()
    await replayCache?.close()
    subscriber?.disconnect()
    redis?.disconnect()
    await server?.stop()
  })

  it('fails closed while down; after an empty restart the same instance works and old requests are refused', async () => {
    const original = acceptInput(message('alpha', 'beta'))
    expect((await transport.accept(original)).outcome).toBe('accepted')
    expect((await transport.read('beta', { ...READ, now: Date.now() })).messages).toHaveLength(1)
    let heard = 0
    transport.onArrival('beta', () => heard++)
    await listening()

    await server.kill()

    // An accept also claims a nonce: once the replay-safety monitor has seen the connection drop it
    // refuses as the replay cache before the transport is tried; both fail closed.
    const calls: [string, Dependency | Dependency[], () => Promise<unknown>][] = [
      ['accept', ['transport', 'replay_cache'], () => transport.accept(acceptInput(message('alpha', 'beta')))],
      ['read', 'transport', () => transport.read('beta', { ...READ, now: Date.now() })],
      ['ack', 'transport', () => transport.ack('beta', [original.message.id])],
      ['transport.ping', 'transport', () => transport.ping()],
      ['claim', 'replay_cache', () => replayCache.claim(claim())],
      ['replayCache.ping', 'replay_cache', () => replayCache.ping()],
    ]
    for (const [name, dependency, call] of calls) {
      const started = Date.now()
      const err = await call().then(() => undefined, (e: unknown) => e)
      expect(err, `${name} while Redis is down`).toBeInstanceOf(DependencyUnavailableError)
      expect(([] as Dependency[]).concat(dependency), name).toContain((err as DependencyUnavailableError).dependency)
      expect(Date.now() - started, `${name} answered promptly`).toBeLessThan(PROMPT_MS)
    }

    // Restart in a later second than the original was signed in, so the new epoch is past it.
    await until(() => Math.floor(Date.now() / 1000) > original.claim.timestamp, 2000)
    const restartedAt = Date.now()
    await server.restart()
    let recovered = false
    for (let attempt = 0; attempt < 100 && !recovered; attempt++) {
      recovered = await transport.ping().then(() => true, () => false)
      if (!recovered) await sleep(100)
    }
    expect(recovered, 'ping after restart').toBe(true)

    // Redis came back empty: the original's nonce is forgotten. Replaying it, now or through the
    // replay cache, must not succeed: it was signed before the new epoch.
    const now = Date.now()
    const replay = { ...original, claim: { ...original.claim, now } }
    // The reconnect check found the store empty and set the epoch then (it no longer waits for a claim).
    const refused = await transport.accept(replay)
    expect(refused).toMatchObject({ outcome: 'before_epoch' })
    const epoch = (refused as { epoch: number }).epoch
    expect(epoch).toBeGreaterThanOrEqual(Math.floor(restartedAt / 1000))
    expect(epoch).toBeLessThanOrEqual(Math.floor(now / 1000))
    expect(await replayCache.claim(replay.claim)).toEqual({ outcome: 'before_epoch', epoch })

    // A request signed now goes through, and wakes the listener through the restored subscription.
    await listening()
    const fresh = message('alpha', 'beta')
    // The restored subscription also calls the listener once by itself (Transport.onArrival: an
    // announcement made while it was down reached nobody), perhaps before this point or after it.
    heard = 0
    expect(await transport.accept(acceptInput(fresh))).toEqual({ outcome: 'accepted', message: fresh })
    await until(() => heard >= 1)
    expect((await transport.read('beta', { ...READ, now: Date.now() })).messages).toEqual([{ ...fresh, delivery_count: 1 }])
    expect(await transport.ack('beta', [fresh.id])).toBe(1)
  })
}, { ownServer: true })
