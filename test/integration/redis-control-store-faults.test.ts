import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../src/errors/faults.js'
import { createRedisClient, waitForRedis } from '../../src/stores/redis/client.js'
import { RedisControlStore } from '../../src/stores/redis/control-store.js'
import type { ControlStore } from '../../src/stores/types.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { auditEvent, keyRecord, mechaRecord } from '../helpers/records.js'

describeWithRedis('RedisControlStore when Redis goes away', () => {
  let server: RedisHandle
  let client: Redis
  let store: ControlStore

  beforeAll(async () => {
    server = await startRedis()
    client = createRedisClient(server.url, { onError: () => {} })
    await waitForRedis(client, 5000)
    store = new RedisControlStore(client, `mecharim-faults:${randomUUID()}:`)
  })
  afterAll(async () => {
    await store?.close()
    await server?.stop()
  })

  it('fails closed with DependencyUnavailableError while down, and the same client recovers', async () => {
    const key = keyRecord('alpha')
    await store.saveMecha(mechaRecord('alpha'), null, auditEvent('mecha.created', 'alpha'))
    await store.saveKey(key, null, auditEvent('key.issued', key.id))

    await server.kill()

    const calls: Record<string, () => Promise<unknown>> = {
      getMecha: () => store.getMecha('alpha'),
      listMechas: () => store.listMechas({ limit: 10 }),
      saveMecha: () => store.saveMecha(mechaRecord('beta'), null, auditEvent('mecha.created', 'beta')),
      getKey: () => store.getKey(key.id),
      listKeys: () => store.listKeys('alpha'),
      saveKey: () => store.saveKey({ ...key, version: 2 }, 1, auditEvent('key.revoked', key.id)),
      appendAudit: () => store.appendAudit(auditEvent('operator.refused', '/v1/mechas')),
      listAudit: () => store.listAudit({ limit: 10 }),
      listAuditFiltered: () => store.listAudit({ limit: 10, type: 'key.issued' }),
      ping: () => store.ping(),
    }
    for (const [name, call] of Object.entries(calls)) {
      const err = await call().then(() => undefined, (e: unknown) => e)
      expect(err, `${name} while Redis is down`).toBeInstanceOf(DependencyUnavailableError)
      expect((err as DependencyUnavailableError).dependency).toBe('store')
    }

    await server.restart()
    let recovered = false
    for (let attempt = 0; attempt < 100 && !recovered; attempt++) {
      recovered = await store.ping().then(() => true, () => false)
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(recovered, 'ping after restart').toBe(true)

    // The restarted server is empty (no persistence): the old records are gone, new writes work.
    expect(await store.getMecha('alpha')).toBeUndefined()
    const beta = mechaRecord('beta')
    await store.saveMecha(beta, null, auditEvent('mecha.created', 'beta'))
    expect(await store.getMecha('beta')).toEqual(beta)
    expect((await store.listAudit({ limit: 10 })).map((e) => e.type)).toEqual(['mecha.created'])
  })
}, { ownServer: true })
