import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { VersionConflictError } from '../../src/errors/faults.js'
import type { ControlStore } from '../../src/stores/types.js'
import { auditEvent, keyRecord, mechaRecord, modeRecord } from '../helpers/records.js'

export interface StoreHarness {
  /** A fresh, empty store. */
  open(): Promise<ControlStore>
  /** Close and reopen the same backing data (a process restart). */
  reopen(store: ControlStore): Promise<ControlStore>
  teardown(): Promise<void>
}

/** The ControlStore contract: every implementation runs exactly this suite. */
export function controlStoreContract(name: string, harness: () => StoreHarness): void {
  describe(`ControlStore contract: ${name}`, () => {
    let h: StoreHarness
    let store: ControlStore

    beforeEach(async () => {
      h ??= harness()
      store = await h.open()
      return async () => { await store.close() }
    })
    afterAll(async () => { await h?.teardown() })

    describe('mechas', () => {
      it('creates and reads a mecha', async () => {
        const m = mechaRecord('alpha', { name: 'Alpha', listed: true })
        await store.saveMecha(m, null, auditEvent('mecha.created', 'alpha'))
        expect(await store.getMecha('alpha')).toEqual(m)
        expect(await store.getMecha('beta')).toBeUndefined()
      })

      it('refuses to create an existing mecha', async () => {
        await store.saveMecha(mechaRecord('alpha'), null, auditEvent('mecha.created', 'alpha'))
        await expect(store.saveMecha(mechaRecord('alpha', { name: 'other' }), null, auditEvent('mecha.created', 'alpha')))
          .rejects.toBeInstanceOf(VersionConflictError)
        expect((await store.getMecha('alpha'))?.name).toBeNull()
      })

      it('updates only from the expected version', async () => {
        const m = mechaRecord('alpha')
        await store.saveMecha(m, null, auditEvent('mecha.created', 'alpha'))
        await store.saveMecha({ ...m, name: 'v2', version: 2 }, 1, auditEvent('mecha.updated', 'alpha'))
        await expect(store.saveMecha({ ...m, name: 'stale', version: 2 }, 1, auditEvent('mecha.updated', 'alpha')))
          .rejects.toBeInstanceOf(VersionConflictError)
        expect(await store.getMecha('alpha')).toMatchObject({ name: 'v2', version: 2 })
      })

      it('lists mechas in id order with an exclusive cursor', async () => {
        for (const id of ['delta', 'alpha', 'charlie', 'bravo']) {
          await store.saveMecha(mechaRecord(id), null, auditEvent('mecha.created', id))
        }
        expect((await store.listMechas({ limit: 10 })).map((m) => m.id)).toEqual(['alpha', 'bravo', 'charlie', 'delta'])
        expect((await store.listMechas({ limit: 2 })).map((m) => m.id)).toEqual(['alpha', 'bravo'])
        expect((await store.listMechas({ limit: 2, after: 'bravo' })).map((m) => m.id)).toEqual(['charlie', 'delta'])
        expect(await store.listMechas({ limit: 2, after: 'delta' })).toEqual([])
      })

      it('concurrent creates of one id: exactly one wins', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => store.saveMecha(mechaRecord('race', { name: `n${i}` }), null, auditEvent('mecha.created', 'race'))),
        )
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
        expect((await store.listAudit({ limit: 50 })).filter((e) => e.type === 'mecha.created')).toHaveLength(1)
      })
    })

    describe('keys', () => {
      it('creates, reads and lists keys per mecha', async () => {
        await store.saveMecha(mechaRecord('alpha'), null, auditEvent('mecha.created', 'alpha'))
        await store.saveMecha(mechaRecord('beta'), null, auditEvent('mecha.created', 'beta'))
        const k1 = keyRecord('alpha')
        const k2 = keyRecord('alpha')
        const k3 = keyRecord('beta')
        for (const k of [k1, k2, k3]) await store.saveKey(k, null, auditEvent('key.issued', k.id))
        expect(await store.getKey(k1.id)).toEqual(k1)
        expect(await store.getKey('mkaaaaaaaaaaaaaaaaaaaaaaaa')).toBeUndefined()
        expect((await store.listKeys('alpha')).map((k) => k.id)).toEqual([k1.id, k2.id].sort())
        expect((await store.listKeys('beta')).map((k) => k.id)).toEqual([k3.id])
        expect(await store.listKeys('gamma')).toEqual([])
      })

      it('does not mix up mechas whose ids share a prefix', async () => {
        const ka = keyRecord('ab')
        const kb = keyRecord('abc')
        await store.saveKey(ka, null, auditEvent('key.issued', ka.id))
        await store.saveKey(kb, null, auditEvent('key.issued', kb.id))
        expect((await store.listKeys('ab')).map((k) => k.id)).toEqual([ka.id])
      })

      it('updates a key by compare-and-set', async () => {
        const k = keyRecord('alpha')
        await store.saveKey(k, null, auditEvent('key.issued', k.id))
        const revoked = { ...k, revoked_at: new Date().toISOString(), revoked_by: 'op', version: 2 }
        await store.saveKey(revoked, 1, auditEvent('key.revoked', k.id))
        await expect(store.saveKey({ ...k, label: 'late', version: 2 }, 1, auditEvent('key.updated', k.id)))
          .rejects.toBeInstanceOf(VersionConflictError)
        await expect(store.saveKey(k, null, auditEvent('key.issued', k.id))).rejects.toBeInstanceOf(VersionConflictError)
        expect(await store.getKey(k.id)).toEqual(revoked)
        expect(await store.listKeys('alpha')).toHaveLength(1)
      })

      it('writes nothing, audit included, when the compare-and-set fails', async () => {
        const k = keyRecord('alpha')
        await store.saveKey(k, null, auditEvent('key.issued', k.id))
        await expect(store.saveKey({ ...k, version: 5 }, 3, auditEvent('key.updated', k.id))).rejects.toBeInstanceOf(VersionConflictError)
        expect((await store.listAudit({ limit: 10 })).map((e) => e.type)).toEqual(['key.issued'])
      })
    })

    describe('modes', () => {
      it('creates, reads and lists modes in name order', async () => {
        for (const name of ['review.v1', 'decision.v1', 'decision.v2']) await store.saveMode(modeRecord(name), null, auditEvent('mode.put', name))
        expect(await store.getMode('decision.v1')).toEqual(modeRecord('decision.v1', { created_at: expect.any(String), updated_at: expect.any(String) }))
        expect(await store.getMode('missing.v1')).toBeUndefined()
        expect((await store.listModes()).map((m) => m.name)).toEqual(['decision.v1', 'decision.v2', 'review.v1'])
      })

      it('replaces only from the expected revision, and refuses to create an existing mode', async () => {
        const m = modeRecord('decision.v1')
        await store.saveMode(m, null, auditEvent('mode.put', m.name))
        await expect(store.saveMode({ ...m, kinds: ['x'] }, null, auditEvent('mode.put', m.name))).rejects.toBeInstanceOf(VersionConflictError)
        await store.saveMode({ ...m, kinds: ['vote'], revision: 2 }, 1, auditEvent('mode.put', m.name))
        await expect(store.saveMode({ ...m, kinds: ['stale'], revision: 2 }, 1, auditEvent('mode.put', m.name))).rejects.toBeInstanceOf(VersionConflictError)
        await expect(store.saveMode(modeRecord('other.v1'), 1, auditEvent('mode.put', 'other.v1'))).rejects.toBeInstanceOf(VersionConflictError)
        expect(await store.getMode(m.name)).toMatchObject({ kinds: ['vote'], revision: 2 })
        expect((await store.listModes()).map((x) => x.name)).toEqual([m.name])
        expect((await store.listAudit({ limit: 10 })).map((e) => e.type)).toEqual(['mode.put', 'mode.put'])
      })

      it('deletes at the expected revision only, with its audit event', async () => {
        const m = modeRecord('decision.v1')
        await store.saveMode(m, null, auditEvent('mode.put', m.name))
        await expect(store.deleteMode(m.name, 2, auditEvent('mode.deleted', m.name))).rejects.toBeInstanceOf(VersionConflictError)
        await expect(store.deleteMode('missing.v1', 1, auditEvent('mode.deleted', 'missing.v1'))).rejects.toBeInstanceOf(VersionConflictError)
        await store.deleteMode(m.name, 1, auditEvent('mode.deleted', m.name))
        expect(await store.getMode(m.name)).toBeUndefined()
        expect(await store.listModes()).toEqual([])
        expect((await store.listAudit({ limit: 10 })).map((e) => e.type)).toEqual(['mode.deleted', 'mode.put'])
        await store.saveMode(m, null, auditEvent('mode.put', m.name))
        expect((await store.listModes()).map((x) => x.name)).toEqual([m.name])
      })

      it('concurrent creates of one mode: exactly one wins', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => store.saveMode(modeRecord('race.v1', { description: `d${i}` }), null, auditEvent('mode.put', 'race.v1'))),
        )
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
        expect((await store.listAudit({ limit: 50 })).filter((e) => e.type === 'mode.put')).toHaveLength(1)
      })

      it('keeps modes across a restart', async () => {
        const m = modeRecord('decision.v1')
        await store.saveMode(m, null, auditEvent('mode.put', m.name))
        store = await h.reopen(store)
        expect(await store.getMode(m.name)).toEqual(m)
        expect((await store.listModes()).map((x) => x.name)).toEqual([m.name])
      })
    })

    describe('audit', () => {
      it('lists newest first, pages with before, filters by type', async () => {
        await store.saveMecha(mechaRecord('alpha'), null, auditEvent('mecha.created', 'alpha'))
        const k = keyRecord('alpha')
        await store.saveKey(k, null, auditEvent('key.issued', k.id))
        await store.appendAudit(auditEvent('operator.refused', '/v1/mechas', { operator: null, target: { kind: 'route', id: '/v1/mechas' } }))
        await store.saveKey({ ...k, version: 2 }, 1, auditEvent('key.revoked', k.id))

        const all = await store.listAudit({ limit: 10 })
        expect(all.map((e) => e.type)).toEqual(['key.revoked', 'operator.refused', 'key.issued', 'mecha.created'])
        const page1 = await store.listAudit({ limit: 2 })
        const page2 = await store.listAudit({ limit: 2, before: page1[1]?.id })
        expect([...page1, ...page2]).toEqual(all)
        expect((await store.listAudit({ limit: 10, type: 'key.issued' })).map((e) => e.target.id)).toEqual([k.id])
        expect(await store.listAudit({ limit: 10, before: all[3]?.id })).toEqual([])
      })

      it('type filter still honours the limit across many events', async () => {
        for (let i = 0; i < 30; i++) await store.appendAudit(auditEvent(i % 3 === 0 ? 'key.revoked' : 'key.updated', `k${i}`))
        const revoked = await store.listAudit({ limit: 4, type: 'key.revoked' })
        expect(revoked.map((e) => e.target.id)).toEqual(['k27', 'k24', 'k21', 'k18'])
      })
    })

    describe('durability', () => {
      it('keeps mechas, keys and audit events across a restart', async () => {
        const m = mechaRecord('alpha')
        const k = keyRecord('alpha')
        await store.saveMecha(m, null, auditEvent('mecha.created', 'alpha'))
        await store.saveKey(k, null, auditEvent('key.issued', k.id))
        store = await h.reopen(store)
        expect(await store.getMecha('alpha')).toEqual(m)
        expect(await store.getKey(k.id)).toEqual(k)
        expect((await store.listKeys('alpha')).map((x) => x.id)).toEqual([k.id])
        expect((await store.listAudit({ limit: 10 })).map((e) => e.type)).toEqual(['key.issued', 'mecha.created'])
      })

      it('answers ping while healthy', async () => {
        await expect(store.ping()).resolves.toBeUndefined()
      })
    })
  })
}
