import { randomUUID } from 'node:crypto'
import { expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../src/errors/faults.js'
import { RedisControlStore } from '../../src/stores/redis/control-store.js'
import { describeWithRedis, ownRedis } from '../helpers/redis-server.js'
import { auditEvent, mechaRecord, modeRecord } from '../helpers/records.js'

/**
 * Control-plane writes carry a deadline, like the transport's accept: a write the service answered
 * 503 for while Redis hung must not apply when Redis resumes (an operator told "failed" would find the
 * change made after all, a revocation reported failed would still happen, and so on).
 */
describeWithRedis('RedisControlStore write deadline', () => {
  const own = ownRedis()

  it('a write that reaches Redis after its deadline writes nothing: no record, no index entry, no audit event', async () => {
    const prefix = `deadline:${randomUUID()}:`
    const late = new RedisControlStore(own.client, prefix, { now: () => Date.now() - 5000 })
    await expect(late.saveMecha(mechaRecord('alpha'), null, auditEvent('mecha.created', 'alpha'))).rejects.toBeInstanceOf(DependencyUnavailableError)
    await expect(late.appendAudit(auditEvent('operator.refused', 'x'))).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(await own.client.keys(`${prefix}*`)).toEqual([])

    const onTime = new RedisControlStore(own.client, prefix)
    await onTime.saveMecha(mechaRecord('alpha'), null, auditEvent('mecha.created', 'alpha'))
    expect((await onTime.getMecha('alpha'))?.id).toBe('alpha')
    expect(await onTime.listAudit({ limit: 10 })).toHaveLength(1)
  })

  it('a mode write or delete after its deadline writes nothing either', async () => {
    const prefix = `deadline-mode:${randomUUID()}:`
    const onTime = new RedisControlStore(own.client, prefix)
    const late = new RedisControlStore(own.client, prefix, { now: () => Date.now() - 5000 })
    await expect(late.saveMode(modeRecord('decision.v1'), null, auditEvent('mode.put', 'decision.v1'))).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(await own.client.keys(`${prefix}*`)).toEqual([])
    await onTime.saveMode(modeRecord('decision.v1'), null, auditEvent('mode.put', 'decision.v1'))
    await expect(late.deleteMode('decision.v1', 1, auditEvent('mode.deleted', 'decision.v1'))).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect((await onTime.listModes()).map((m) => m.name)).toEqual(['decision.v1'])
    expect((await onTime.listAudit({ limit: 10 })).map((e) => e.type)).toEqual(['mode.put'])
  })

  it('Redis hung (SIGSTOP): the write is refused, and it has not applied once Redis resumes', async () => {
    const prefix = `hung:${randomUUID()}:`
    const store = new RedisControlStore(own.client, prefix)
    await own.server.pause()
    try {
      await expect(store.saveMecha(mechaRecord('beta'), null, auditEvent('mecha.created', 'beta'))).rejects.toBeInstanceOf(DependencyUnavailableError)
    } finally {
      await own.server.resume()
    }
    // The command still sat in Redis's socket buffer; it runs now, past its deadline.
    await own.client.ping()
    expect(await store.getMecha('beta')).toBeUndefined()
    expect(await store.listMechas({ limit: 10 })).toEqual([])
    expect(await store.listAudit({ limit: 10 })).toEqual([])
  }, 15_000)
})
