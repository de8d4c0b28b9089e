import { describe, expect, it } from 'vitest'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'
import { describeWithRedis, startRedis } from '../helpers/redis-server.js'
import { runtimeHeaders, type RuntimeRequestOptions } from '../helpers/runtime.js'

/** Sleeps past the next whole second, so the server's clock is in a later second than the signature. */
async function crossSecond(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)))
}

/**
 * The first request a new deployment sees was signed in second S and reaches the replay cache in S+1.
 * The stores start the replay epoch when they open, so that request is accepted (it was once refused
 * as older than the cache's memory, because the first claim set the epoch).
 */
async function firstRequestSignedBeforeASecondBoundary(h: GatewayHarness): Promise<void> {
  await h.register('alpha')
  await h.register('beta')
  const alpha = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256'] } })
  const signed = (url: string, body?: string): Record<string, string> => {
    const options: RuntimeRequestOptions = { method: body === undefined ? 'GET' : 'POST', url, credentials: alpha, auth: 'token+hmac-sha256', authority: h.t.config.publicAuthority }
    return runtimeHeaders(body === undefined ? options : { ...options, body })
  }
  const body = JSON.stringify({ to: 'beta', kind: 'k', payload: 1 })
  const message = signed('/v1/messages', body)
  const whoami = signed('/v1/whoami')
  await crossSecond()
  const sent = await fetch(`${h.base}/v1/messages`, { method: 'POST', headers: message, body })
  expect({ status: sent.status, body: await sent.json() }).toMatchObject({ status: 202 })
  const who = await fetch(`${h.base}/v1/whoami`, { headers: whoami })
  expect({ status: who.status, body: await who.json() }).toMatchObject({ status: 200 })
}

describe('replay epoch on a new embedded data directory', () => {
  it('accepts the first requests, signed in the second before they reach the cache', async () => {
    const h = await gatewayHarness()
    try {
      await firstRequestSignedBeforeASecondBoundary(h)
    } finally {
      await h.close()
    }
  })
})

describeWithRedis('replay epoch on an empty Redis', () => {
  it('accepts the first requests, signed in the second before they reach the cache', async () => {
    const redis = await startRedis()
    const h = await gatewayHarness({ REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'epoch:' })
    try {
      await firstRequestSignedBeforeASecondBoundary(h)
    } finally {
      await h.close()
      await redis.stop()
    }
  })
})
