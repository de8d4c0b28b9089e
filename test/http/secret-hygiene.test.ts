import { generateKeyPairSync } from 'node:crypto'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseToken } from '../../src/crypto/token.js'
import { createRedisClient, waitForRedis } from '../../src/stores/redis/client.js'
import { OPERATORS, admin, bearer, testApp, type TestApp } from '../helpers/app.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'

interface Captured {
  secrets: string[]
  /** Response bodies and headers of every call except the two that must carry secrets. */
  responses: string[]
}

/**
 * A full lifecycle: register, issue (HMAC + Ed25519), read, update, rotate, revoke, deactivate, plus
 * refused requests that present wrong or misplaced secrets. Returns every secret that existed and
 * every response that must not contain one.
 */
async function lifecycle(t: TestApp): Promise<Captured> {
  const secrets: string[] = [OPERATORS.admin, OPERATORS.reader, OPERATORS.auditor]
  const responses: string[] = []
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string>, payload?: object, carriesSecret = false) => {
    const res = await t.app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}) })
    if (!carriesSecret) responses.push(res.body, JSON.stringify(res.headers))
    return res
  }
  const publicKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x as string
  await call('POST', '/v1/mechas', admin, { id: 'alpha' })
  const issued = (await call('POST', '/v1/mechas/alpha/keys', admin, { signature: { algorithms: ['hmac-sha256', 'ed25519'] }, public_keys: [publicKey] }, true)).json()
  secrets.push(issued.token, issued.signing_secret)
  const keyId = issued.key.id as string
  await call('GET', `/v1/keys/${keyId}`, admin)
  await call('GET', '/v1/mechas/alpha/keys', admin)
  await call('PATCH', `/v1/keys/${keyId}`, admin, { label: 'renamed' })
  const rotated = (await call('POST', `/v1/keys/${keyId}/rotate`, admin, { grace_seconds: 60 }, true)).json()
  secrets.push(rotated.token, rotated.signing_secret)
  // misplaced and wrong secrets: each refused, none echoed
  await call('GET', '/v1/mechas', bearer(rotated.token))
  await call('GET', '/v1/mechas', bearer(`${OPERATORS.admin}x`))
  await call('GET', '/v1/mechas', { authorization: `Basic ${OPERATORS.admin}` })
  await call('POST', `/v1/keys/${keyId}/revoke`, admin)
  await call('DELETE', '/v1/mechas/alpha', admin)
  await call('GET', '/v1/audit?limit=500', admin)
  const metrics = await call('GET', '/metrics', {})
  expect(metrics.body).toContain('mecharim_http_requests_total')
  for (const token of [issued.token, rotated.token]) {
    const parsed = parseToken(token)
    if (!parsed.ok) throw new Error('issued token does not parse')
    secrets.push(parsed.value.secret)
  }
  expect(secrets.every((s) => typeof s === 'string' && s.length >= 32)).toBe(true)
  return { secrets, responses }
}

function expectNoSecret(haystacks: { where: string; text: string }[], secrets: string[]): void {
  const leaks = haystacks.flatMap(({ where, text }) => secrets.filter((s) => text.includes(s)).map((s) => `${where}: ${s.slice(0, 10)}...`))
  expect(leaks).toEqual([])
}

describe('secret hygiene: embedded store', () => {
  let t: TestApp
  let captured: Captured
  beforeAll(async () => {
    t = await testApp({ LOG_LEVEL: 'trace' })
    captured = await lifecycle(t)
  })
  afterAll(async () => { await t.close() })

  it('no secret in any log line', () => {
    expect(t.logs.length).toBeGreaterThan(20)
    expectNoSecret(t.logs.map((text, i) => ({ where: `log ${i}`, text })), captured.secrets)
  })

  it('no secret in any response but issuance and rotation', () => {
    expectNoSecret(captured.responses.map((text, i) => ({ where: `response ${i}`, text })), captured.secrets)
  })

  it('no secret in the store files, byte for byte', () => {
    // Regular files only: the data directory also holds the lock socket (stores/embedded/data-dir-lock.ts).
    const files = readdirSync(t.dataDir).map((name) => join(t.dataDir, name)).filter((f) => statSync(f).isFile())
    expect(files.length).toBeGreaterThan(0)
    expectNoSecret(files.map((f) => ({ where: f, text: readFileSync(f).toString('latin1') })), captured.secrets)
  })

  it('the haystack is real: the issuance response did carry the secrets', () => {
    // guards against a capture that is silently empty
    expect(captured.responses.join('')).toContain('"status":"revoked"')
    expect(captured.responses.join('')).toContain('mecharim_refusals_total') // the metrics text is in the haystack
    expect(captured.secrets).toHaveLength(9)
  })
})

describeWithRedis('secret hygiene: Redis store', () => {
  let redisServer: RedisHandle
  let t: TestApp
  let captured: Captured
  const prefix = 'hygiene:'
  beforeAll(async () => {
    redisServer = await startRedis()
    t = await testApp({ LOG_LEVEL: 'trace', REDIS_URL: redisServer.url, MECHA_REDIS_PREFIX: prefix })
    captured = await lifecycle(t)
  })
  afterAll(async () => {
    await t?.close()
    await redisServer?.stop()
  })

  it('no secret in any Redis key or value', async () => {
    const redis = createRedisClient(redisServer.url)
    await waitForRedis(redis, 5000)
    try {
      const keys = await redis.keys(`${prefix}*`)
      expect(keys.length).toBeGreaterThan(3)
      // Read each value by its type: DUMP output may be LZF-compressed and would hide a plaintext secret.
      const read = async (k: string): Promise<string> => {
        const type = await redis.type(k)
        if (type === 'string') return (await redis.get(k)) ?? ''
        if (type === 'hash') return JSON.stringify(await redis.hgetall(k))
        if (type === 'zset') return JSON.stringify(await redis.zrange(k, 0, -1, 'WITHSCORES'))
        if (type === 'set') return JSON.stringify(await redis.smembers(k))
        if (type === 'list') return JSON.stringify(await redis.lrange(k, 0, -1))
        if (type === 'stream') return JSON.stringify(await redis.xrange(k, '-', '+'))
        throw new Error(`unexpected Redis type ${type} at ${k}`)
      }
      const dumps = await Promise.all(keys.map(async (k) => ({ where: k, text: `${k} ${await read(k)}` })))
      expectNoSecret(dumps, captured.secrets)
    } finally {
      redis.disconnect()
    }
  })

  it('no secret in logs or responses', () => {
    expectNoSecret([...t.logs, ...captured.responses].map((text, i) => ({ where: `capture ${i}`, text })), captured.secrets)
  })
})
