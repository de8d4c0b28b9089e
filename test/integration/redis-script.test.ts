import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { openStores } from '../../src/open-stores.js'
import { RedisScript } from '../../src/stores/redis/script.js'
import { describeWithRedis, ownRedis } from '../helpers/redis-server.js'

/**
 * Every store's Lua runs through RedisScript (EVALSHA, the whole script only on NOSCRIPT), not through
 * ioredis' defineCommand, which would copy each script onto every auto-pipeline the client creates.
 */
describeWithRedis('RedisScript on a real redis-server', () => {
  const redis = ownRedis()
  const echo = new RedisScript<[key: string, value: string], [string, string]>("redis.call('SET', KEYS[1], ARGV[1]) return {KEYS[1], ARGV[1]}", 1)

  it('runs a script the server has never seen (NOSCRIPT, then EVAL), and by its SHA once loaded', async () => {
    await redis.client.script('FLUSH')
    expect(await redis.client.script('EXISTS', echo.sha)).toEqual([0])
    expect(await echo.run(redis.client, 'script-test:a', 'one')).toEqual(['script-test:a', 'one'])
    expect(await redis.client.script('EXISTS', echo.sha)).toEqual([1])
    expect(await echo.run(redis.client, 'script-test:a', 'two')).toEqual(['script-test:a', 'two'])
    expect(await redis.client.get('script-test:a')).toBe('two')
  })

  it('runs again after the server lost its script cache (a restart, a failover, SCRIPT FLUSH)', async () => {
    await echo.run(redis.client, 'script-test:b', 'before')
    await redis.client.script('FLUSH')
    expect(await echo.run(redis.client, 'script-test:b', 'after')).toEqual(['script-test:b', 'after'])
  })

  it('rejects with the script\'s own error, and defines no command on the client', async () => {
    const failing = new RedisScript<[key: string], never>("return redis.error_reply('ERR script says no')", 1)
    await expect(failing.run(redis.client, 'script-test:c')).rejects.toThrow(/script says no/)
    expect(Object.keys(redis.client.scriptsSet)).toEqual([])
  })

  it('the service\'s stores on Redis define no command on its connection: an auto-pipeline copies none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecharim-script-'))
    const stores = await openStores(loadConfig({ MECHA_DATA_DIR: dir, MECHA_DURABILITY: 'memory', REDIS_URL: redis.server.url, MECHA_REDIS_PREFIX: `mecharim-test:${randomUUID()}:` }))
    try {
      expect(stores.kind).toBe('redis')
      const client = stores.redis as unknown as { scriptsSet: Record<string, unknown> }
      expect(Object.keys(client.scriptsSet)).toEqual([])
    } finally {
      await stores.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('takes only a script and a whole number of keys', () => {
    expect(() => new RedisScript('', 0)).toThrow(TypeError)
    expect(() => new RedisScript('return 1', -1)).toThrow(TypeError)
    expect(() => new RedisScript('return 1', 1.5)).toThrow(TypeError)
  })
})
