import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, type Env } from '../../src/config/load.js'
import { openStores } from '../../src/open-stores.js'
import { OPERATOR_TOKENS_JSON, testApp } from '../helpers/app.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'

/**
 * What a 202 promises, read from the store at start and compared with MECHA_DURABILITY. Each Redis is
 * a real redis-server started with the persistence flags under test.
 */
function redisConfig(redis: RedisHandle, env: Env = {}): ReturnType<typeof loadConfig> {
  return loadConfig({ REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'durability:', MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON, ...env })
}

const AOF_EVERYSEC = ['--appendonly', 'yes', '--appendfsync', 'everysec']

describeWithRedis('MECHA_DURABILITY against Redis persistence', () => {
  const servers: Record<string, RedisHandle> = {}

  beforeAll(async () => {
    const [none, everysec, always, hidden] = await Promise.all([
      startRedis(),
      startRedis({ args: AOF_EVERYSEC }),
      startRedis({ persist: true }),
      // Managed Redis often disables CONFIG: only INFO persistence can be read.
      startRedis({ args: [...AOF_EVERYSEC, '--rename-command', 'CONFIG', 'config-hidden-for-test'] }),
    ])
    Object.assign(servers, { none, everysec, always, hidden })
  })
  afterAll(async () => {
    await Promise.all(Object.values(servers).map((s) => s.stop()))
  })

  it('fsync refuses a Redis with appendfsync everysec, naming the setting and the alternative', async () => {
    await expect(openStores(redisConfig(servers.everysec!, { MECHA_DURABILITY: 'fsync' })))
      .rejects.toThrow(/MECHA_DURABILITY=fsync needs .*appendfsync always; found appendonly yes, appendfsync everysec.*MECHA_DURABILITY=everysec/)
  })

  it('fsync refuses a Redis without an append-only file', async () => {
    await expect(openStores(redisConfig(servers.none!, { MECHA_DURABILITY: 'fsync' }))).rejects.toThrow(/found appendonly no, appendfsync/)
  })

  it('fsync accepts appendfsync always and reports it in the well-known document and /readyz', async () => {
    const t = await testApp({ REDIS_URL: servers.always!.url, MECHA_REDIS_PREFIX: 'durability-app:', MECHA_DURABILITY: 'fsync' })
    try {
      const expected = { level: 'fsync', required: 'fsync', store: 'redis', detail: expect.stringContaining('every 202 is on disk') }
      expect(t.stores.durability).toMatchObject(expected)
      expect((await t.app.inject({ method: 'GET', url: '/.well-known/mecharim' })).json().durability).toEqual(expected)
      const ready = await t.app.inject({ method: 'GET', url: '/readyz' })
      expect(ready.statusCode).toBe(200)
      expect(ready.json().durability).toEqual(expected)
    } finally {
      await t.close()
    }
  })

  it('everysec (the default) accepts appendfsync everysec and says what a host crash can lose', async () => {
    const stores = await openStores(redisConfig(servers.everysec!))
    try {
      expect(stores.durability).toMatchObject({ level: 'everysec', required: 'everysec', store: 'redis' })
      expect(stores.durability.detail).toMatch(/appendfsync everysec.*host crash or power loss can lose about the last second/)
    } finally {
      await stores.close()
    }
  })

  it('everysec (the default) refuses a Redis without an append-only file, naming MECHA_DURABILITY=memory', async () => {
    await expect(openStores(redisConfig(servers.none!))).rejects.toThrow(/found appendonly no.*set MECHA_DURABILITY=memory/)
  })

  it('memory accepts a Redis without persistence and says so', async () => {
    const stores = await openStores(redisConfig(servers.none!, { MECHA_DURABILITY: 'memory' }))
    try {
      expect(stores.durability).toMatchObject({ level: 'memory', required: 'memory', store: 'redis' })
      expect(stores.durability.detail).toMatch(/no append-only file.*a Redis restart loses/)
    } finally {
      await stores.close()
    }
  })

  it('memory on a Redis with appendfsync always reports what Redis really gives', async () => {
    const stores = await openStores(redisConfig(servers.always!, { MECHA_DURABILITY: 'memory' }))
    try {
      expect(stores.durability).toMatchObject({ level: 'fsync', required: 'memory' })
    } finally {
      await stores.close()
    }
  })

  it('with CONFIG disabled, falls back to INFO persistence: everysec is assumed and said to be, fsync cannot be confirmed', async () => {
    const stores = await openStores(redisConfig(servers.hidden!))
    try {
      expect(stores.durability).toMatchObject({ level: 'everysec', store: 'redis' })
      expect(stores.durability.detail).toMatch(/aof_enabled:1 \(INFO persistence; CONFIG GET is disabled.*default appendfsync everysec is assumed/)
    } finally {
      await stores.close()
    }
    await expect(openStores(redisConfig(servers.hidden!, { MECHA_DURABILITY: 'fsync' }))).rejects.toThrow(/appendfsync always cannot be confirmed/)
  })
}, { ownServer: true })

describe('MECHA_DURABILITY on the embedded store', () => {
  it('fsync opens LMDB with synchronous commits and reports fsync', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecharim-durability-'))
    const stores = await openStores(loadConfig({ MECHA_DATA_DIR: dir, MECHA_DURABILITY: 'fsync' }))
    try {
      expect(stores.embedded?.synchronousCommit).toBe(true)
      expect(stores.durability).toMatchObject({ level: 'fsync', required: 'fsync', store: 'embedded' })
    } finally {
      await stores.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('everysec (the default) keeps lmdb\'s overlapping sync and says a host crash can lose the last milliseconds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecharim-durability-'))
    const stores = await openStores(loadConfig({ MECHA_DATA_DIR: dir }))
    try {
      expect(stores.embedded?.synchronousCommit).toBe(false)
      expect(stores.durability).toMatchObject({ level: 'everysec', required: 'everysec', store: 'embedded' })
      expect(stores.durability.detail).toMatch(/host crash or power loss can lose the last few milliseconds/)
    } finally {
      await stores.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
