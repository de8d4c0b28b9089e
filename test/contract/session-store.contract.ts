import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { newEventId } from '../../src/crypto/ids.js'
import { SESSION_RETENTION_MS, type SessionRecord, type SessionStore } from '../../src/sessions/types.js'

export interface SessionStoreHarness {
  /** A fresh, empty store. */
  open(): Promise<SessionStore>
  /**
   * A second instance on the same data, as another gateway process would have it (Redis: its own
   * connection; LMDB: another store object on the same environment, which is what one process has).
   */
  sibling(store: SessionStore): Promise<SessionStore>
  close(store: SessionStore): Promise<void>
  teardown(): Promise<void>
}

const MINUTE = 60_000

/** A unique mecha id per call, so rows never see each other's sessions. */
export function mecha(name: string): string {
  return `${name}-${randomUUID().slice(0, 8)}`
}

/** A new open record as the gateway builds it: `ses_<ulid>`, the initiator among sorted participants. */
export function session(overrides: { initiator?: string; key?: string; others?: string[]; now?: number; ttlMs?: number; kinds?: string[] } = {}): SessionRecord {
  const now = overrides.now ?? Date.now()
  const initiator = overrides.initiator ?? mecha('alice')
  const participants = [...new Set([initiator, ...(overrides.others ?? [mecha('bob')])])].sort()
  return {
    id: `ses_${newEventId(now).toLowerCase()}`,
    mode: 'decision.v1',
    kinds: overrides.kinds ?? ['proposal', 'vote'],
    initiator,
    initiator_key: overrides.key ?? 'mkalpha',
    participants,
    intent: 'pick a date',
    state: 'open',
    outcome: null,
    reason: null,
    created_at: new Date(now).toISOString(),
    expires_at: new Date(now + (overrides.ttlMs ?? 10 * MINUTE)).toISOString(),
    closed_at: null,
  }
}

/** The SessionStore contract: every implementation runs exactly this suite. */
export function sessionStoreContract(name: string, harness: () => SessionStoreHarness): void {
  describe(`SessionStore contract: ${name}`, () => {
    let h: SessionStoreHarness
    let store: SessionStore
    const extra: SessionStore[] = []

    beforeEach(async () => {
      h ??= harness()
      store = await h.open()
    })
    afterEach(async () => {
      for (const s of extra.splice(0)) await h.close(s)
      await h.close(store)
    })
    afterAll(async () => { await h?.teardown() })

    const sibling = async (): Promise<SessionStore> => {
      const s = await h.sibling(store)
      extra.push(s)
      return s
    }

    describe('start and get', () => {
      it('stores the record as given, found by id', async () => {
        const now = Date.now()
        const record = session({ now, kinds: [] })
        record.intent = null
        expect(await store.start(record, { maxOpen: null, now })).toEqual({ outcome: 'started' })
        expect(await store.get(record.id)).toEqual(record)
        expect(await (await sibling()).get(record.id), 'from another instance').toEqual(record)
      })

      it('returns undefined for an unknown id', async () => {
        expect(await store.get(session().id)).toBeUndefined()
      })

      it('refuses a record that breaks the contract, before writing anything', async () => {
        const now = Date.now()
        const good = session({ now })
        await expect(store.start({ ...good, id: 'sess_1' }, { maxOpen: null, now })).rejects.toThrow(/expected a session id/)
        await expect(store.start({ ...good, participants: [...good.participants].reverse() }, { maxOpen: null, now })).rejects.toThrow(/sorted/)
        await expect(store.start({ ...good, participants: [good.initiator] }, { maxOpen: null, now })).rejects.toThrow(/2\.\.32 participants/)
        await expect(store.start({ ...good, state: 'committed' }, { maxOpen: null, now })).rejects.toThrow(/new open record/)
        await expect(store.start({ ...good, initiator: 'Alice{x}' }, { maxOpen: null, now })).rejects.toThrow(/expected a mecha id/)
        await expect(store.start({ ...good, initiator_key: 'mk{x}' }, { maxOpen: null, now })).rejects.toThrow(/initiator_key/)
        await expect(store.start(good, { maxOpen: -1, now })).rejects.toThrow(/maxOpen/)
        expect(await store.get(good.id)).toBeUndefined()
      })
    })

    describe('max_open', () => {
      it('refuses the start past maxOpen, saying how many are open and when the first expires', async () => {
        const now = Date.now()
        const initiator = mecha('alice')
        const first = session({ initiator, now, ttlMs: 5 * MINUTE })
        expect(await store.start(first, { maxOpen: 2, now })).toEqual({ outcome: 'started' })
        expect(await store.start(session({ initiator, now: now + 1, ttlMs: 10 * MINUTE }), { maxOpen: 2, now: now + 1 })).toEqual({ outcome: 'started' })
        const refused = session({ initiator, now: now + 2 })
        expect(await store.start(refused, { maxOpen: 2, now: now + 2 })).toEqual({ outcome: 'too_many_open', open: 2, earliestExpiresAt: Date.parse(first.expires_at) })
        expect(await store.get(refused.id), 'a refused start writes no record').toBeUndefined()
        expect(await store.listFor(initiator, { limit: 10 })).toHaveLength(2)
      })

      it('maxOpen 0 refuses every start', async () => {
        const now = Date.now()
        const result = await store.start(session({ now }), { maxOpen: 0, now })
        expect(result).toMatchObject({ outcome: 'too_many_open', open: 0 })
      })

      it('counts starts made without a limit, so a limit set later counts them', async () => {
        const now = Date.now()
        const initiator = mecha('alice')
        for (let i = 0; i < 3; i++) expect(await store.start(session({ initiator, now: now + i }), { maxOpen: null, now: now + i })).toEqual({ outcome: 'started' })
        expect(await store.start(session({ initiator, now: now + 3 }), { maxOpen: 3, now: now + 3 })).toMatchObject({ outcome: 'too_many_open', open: 3 })
      })

      it('counts per key: another key of the same mecha has its own count', async () => {
        const now = Date.now()
        const initiator = mecha('alice')
        expect(await store.start(session({ initiator, key: 'mkalpha', now }), { maxOpen: 1, now })).toEqual({ outcome: 'started' })
        expect(await store.start(session({ initiator, key: 'mkbeta', now: now + 1 }), { maxOpen: 1, now: now + 1 })).toEqual({ outcome: 'started' })
        expect(await store.start(session({ initiator, key: `dev:${initiator}`, now: now + 1 }), { maxOpen: 1, now: now + 1 }), 'the dev sender\'s key').toEqual({ outcome: 'started' })
        expect(await store.start(session({ initiator, key: 'mkalpha', now: now + 2 }), { maxOpen: 1, now: now + 2 })).toMatchObject({ outcome: 'too_many_open', open: 1 })
      })

      it('does not count a session at or past its expires_at', async () => {
        const now = Date.now()
        const initiator = mecha('alice')
        const first = session({ initiator, now, ttlMs: MINUTE })
        expect(await store.start(first, { maxOpen: 1, now })).toEqual({ outcome: 'started' })
        expect(await store.start(session({ initiator, now: now + MINUTE - 1 }), { maxOpen: 1, now: now + MINUTE - 1 })).toMatchObject({ outcome: 'too_many_open' })
        expect(await store.start(session({ initiator, now: now + MINUTE }), { maxOpen: 1, now: now + MINUTE }), 'score <= now is expired').toEqual({ outcome: 'started' })
      })

      it('does not count a closed session', async () => {
        const now = Date.now()
        const initiator = mecha('alice')
        const first = session({ initiator, now })
        await store.start(first, { maxOpen: 1, now })
        expect(await store.start(session({ initiator, now: now + 1 }), { maxOpen: 1, now: now + 1 })).toMatchObject({ outcome: 'too_many_open' })
        expect(await store.close(first.id, { state: 'cancelled', outcome: null, reason: null, now: now + 2 })).toMatchObject({ outcome: 'closed' })
        expect(await store.start(session({ initiator, now: now + 3 }), { maxOpen: 1, now: now + 3 })).toEqual({ outcome: 'started' })
      })

      it('race: 20 concurrent starts for one key through two instances with maxOpen 3 start exactly 3', async () => {
        const other = await sibling()
        const now = Date.now()
        const initiator = mecha('alice')
        const records = Array.from({ length: 20 }, (_, i) => session({ initiator, now: now + i }))
        const results = await Promise.all(records.map((r, i) => (i % 2 === 0 ? store : other).start(r, { maxOpen: 3, now: now + 20 })))
        const started = records.filter((_, i) => results[i]?.outcome === 'started')
        expect(started).toHaveLength(3)
        expect(results.filter((r) => r.outcome === 'too_many_open').every((r) => r.outcome === 'too_many_open' && r.open === 3)).toBe(true)
        const listed = await store.listFor(initiator, { limit: 100 })
        expect(listed.map((r) => r.id).sort()).toEqual(started.map((r) => r.id).sort())
      })
    })

    describe('close', () => {
      it('commits an open session: the record as closed, kept so', async () => {
        const now = Date.now()
        const record = session({ now })
        await store.start(record, { maxOpen: null, now })
        const outcome = { chosen: 'tuesday', votes: [2, 1], nested: { empty: [], none: {} } }
        const result = await store.close(record.id, { state: 'committed', outcome, reason: 'quorum', now: now + 1000 })
        const closed = { ...record, state: 'committed', outcome, reason: 'quorum', closed_at: new Date(now + 1000).toISOString() }
        expect(result).toEqual({ outcome: 'closed', record: closed })
        expect(await store.get(record.id)).toEqual(closed)
      })

      it('a second close finds it not open and returns it as it is', async () => {
        const now = Date.now()
        const record = session({ now })
        await store.start(record, { maxOpen: null, now })
        const first = await store.close(record.id, { state: 'cancelled', outcome: null, reason: 'changed my mind', now: now + 1 })
        expect(first.outcome).toBe('closed')
        const second = await store.close(record.id, { state: 'committed', outcome: 1, reason: null, now: now + 2 })
        expect(second).toEqual({ outcome: 'not_open', record: first.outcome === 'closed' ? first.record : undefined })
      })

      it('commit and cancel refused at or past expires_at; expired refused before it', async () => {
        const now = Date.now()
        const record = session({ now, ttlMs: MINUTE })
        await store.start(record, { maxOpen: null, now })
        const at = now + MINUTE
        expect(await store.close(record.id, { state: 'committed', outcome: 1, reason: null, now: at })).toEqual({ outcome: 'not_open', record })
        expect(await store.close(record.id, { state: 'cancelled', outcome: null, reason: null, now: at + 1 })).toEqual({ outcome: 'not_open', record })
        expect(await store.close(record.id, { state: 'expired', outcome: null, reason: 'ttl', now: at - 1 })).toEqual({ outcome: 'not_open', record })
        const expired = await store.close(record.id, { state: 'expired', outcome: null, reason: 'ttl', now: at })
        expect(expired).toEqual({ outcome: 'closed', record: { ...record, state: 'expired', reason: 'ttl', closed_at: new Date(at).toISOString() } })
      })

      it('says missing for an unknown id', async () => {
        expect(await store.close(session().id, { state: 'cancelled', outcome: null, reason: null, now: Date.now() })).toEqual({ outcome: 'missing' })
      })

      it('race: a commit and a cancel through two instances close it once', async () => {
        const other = await sibling()
        const now = Date.now()
        const record = session({ now })
        await store.start(record, { maxOpen: null, now })
        const results = await Promise.all([
          store.close(record.id, { state: 'committed', outcome: 'yes', reason: null, now: now + 1 }),
          other.close(record.id, { state: 'cancelled', outcome: null, reason: null, now: now + 1 }),
        ])
        expect(results.map((r) => r.outcome).sort()).toEqual(['closed', 'not_open'])
        const winner = results.find((r) => r.outcome === 'closed')
        expect(await store.get(record.id)).toEqual(winner?.outcome === 'closed' ? winner.record : undefined)
      })

      it('refuses a change that breaks the contract', async () => {
        const id = session().id
        await expect(store.close(id, { state: 'open' as 'expired', outcome: null, reason: null, now: Date.now() })).rejects.toThrow(/expected state/)
        await expect(store.close('nope', { state: 'expired', outcome: null, reason: null, now: Date.now() })).rejects.toThrow(/expected a session id/)
      })
    })

    describe('listFor', () => {
      it('lists a mecha\'s sessions, initiator or participant, newest first, paged by id', async () => {
        const now = Date.now()
        const alice = mecha('alice')
        const bob = mecha('bob')
        const carol = mecha('carol')
        const records = [
          session({ initiator: alice, others: [bob], now }),
          session({ initiator: bob, others: [alice, carol], now: now + 1 }),
          session({ initiator: carol, others: [bob], now: now + 2 }),
          session({ initiator: alice, others: [carol], now: now + 2 }),
        ]
        for (const r of records) await store.start(r, { maxOpen: null, now: now + 3 })
        const ids = (list: SessionRecord[]): string[] => list.map((r) => r.id)
        const [a, b, c, d] = records.map((r) => r.id) as [string, string, string, string]
        expect(ids(await store.listFor(alice, { limit: 10 }))).toEqual([d, b, a])
        expect(ids(await store.listFor(bob, { limit: 10 }))).toEqual([c, b, a])
        expect(ids(await store.listFor(carol, { limit: 10 }))).toEqual([d, c, b])
        expect(ids(await store.listFor(mecha('dave'), { limit: 10 }))).toEqual([])
        expect(ids(await store.listFor(alice, { limit: 2 }))).toEqual([d, b])
        expect(ids(await store.listFor(alice, { limit: 2, after: b }))).toEqual([a])
        expect(ids(await store.listFor(alice, { limit: 2, after: a }))).toEqual([])
        expect(ids(await store.listFor(carol, { limit: 1, after: d })), 'same millisecond: by id').toEqual([c])
      })

      it('lists closed sessions as closed', async () => {
        const now = Date.now()
        const record = session({ now })
        await store.start(record, { maxOpen: null, now })
        await store.close(record.id, { state: 'committed', outcome: null, reason: null, now: now + 1 })
        expect(await store.listFor(record.initiator, { limit: 10 })).toMatchObject([{ id: record.id, state: 'committed' }])
      })

      it('pages many sessions of one millisecond without losing or repeating one', async () => {
        const now = Date.now()
        const alice = mecha('alice')
        const records = Array.from({ length: 7 }, () => session({ initiator: alice, now }))
        await Promise.all(records.map((r) => store.start(r, { maxOpen: null, now })))
        const seen: string[] = []
        let after: string | undefined
        for (;;) {
          const page = await store.listFor(alice, { limit: 3, ...(after !== undefined ? { after } : {}) })
          if (page.length === 0) break
          seen.push(...page.map((r) => r.id))
          after = page.at(-1)?.id
        }
        expect(seen).toEqual(records.map((r) => r.id).sort().reverse())
      })
    })

    describe('due', () => {
      it('returns open sessions at or past expires_at, oldest expiry first, at most limit', async () => {
        const now = Date.now()
        const late = session({ now, ttlMs: 3 * MINUTE })
        const early = session({ now, ttlMs: MINUTE })
        const middle = session({ now, ttlMs: 2 * MINUTE })
        const notYet = session({ now, ttlMs: 10 * MINUTE })
        for (const r of [late, early, middle, notYet]) await store.start(r, { maxOpen: null, now })
        expect((await store.due(now + MINUTE - 1, 10)).map((r) => r.id)).toEqual([])
        expect((await store.due(now + MINUTE, 10)).map((r) => r.id)).toEqual([early.id])
        expect((await store.due(now + 5 * MINUTE, 10)).map((r) => r.id)).toEqual([early.id, middle.id, late.id])
        expect((await store.due(now + 5 * MINUTE, 2)).map((r) => r.id)).toEqual([early.id, middle.id])
      })

      it('no longer returns a closed session', async () => {
        const now = Date.now()
        const committed = session({ now, ttlMs: MINUTE })
        const swept = session({ now, ttlMs: MINUTE })
        await store.start(committed, { maxOpen: null, now })
        await store.start(swept, { maxOpen: null, now })
        await store.close(committed.id, { state: 'committed', outcome: null, reason: null, now: now + 1 })
        expect((await store.due(now + MINUTE, 10)).map((r) => r.id)).toEqual([swept.id])
        await store.close(swept.id, { state: 'expired', outcome: null, reason: 'ttl', now: now + MINUTE })
        expect(await store.due(now + MINUTE, 10)).toEqual([])
      })
    })

    describe('retention', () => {
      it('keeps a closed session 24 h after it closed, then removes it and its listing entries', async () => {
        const now = Date.now()
        const record = session({ now })
        const kept = session({ initiator: record.initiator, now: now + 1, ttlMs: 2 * SESSION_RETENTION_MS })
        await store.start(record, { maxOpen: null, now })
        await store.start(kept, { maxOpen: null, now: now + 1 })
        const closedAt = now + 1000
        await store.close(record.id, { state: 'committed', outcome: null, reason: null, now: closedAt })
        await store.due(closedAt + SESSION_RETENTION_MS - 1, 10)
        expect(await store.get(record.id)).toMatchObject({ state: 'committed' })
        await store.due(closedAt + SESSION_RETENTION_MS, 10)
        expect(await store.get(record.id), 'removed').toBeUndefined()
        expect((await store.listFor(record.initiator, { limit: 10 })).map((r) => r.id)).toEqual([kept.id])
        expect(await store.listFor(record.participants.find((p) => p !== record.initiator) as string, { limit: 10 })).toEqual([])
        expect(await store.get(kept.id)).toEqual(kept)
      })

      it('keeps a session never closed 24 h after it expired', async () => {
        const now = Date.now()
        const record = session({ now, ttlMs: MINUTE })
        await store.start(record, { maxOpen: null, now })
        const expiry = now + MINUTE
        expect((await store.due(expiry + SESSION_RETENTION_MS - 1, 10)).map((r) => r.id)).toEqual([record.id])
        await store.due(expiry + SESSION_RETENTION_MS, 10)
        expect(await store.get(record.id)).toBeUndefined()
        expect(await store.listFor(record.initiator, { limit: 10 })).toEqual([])
      })
    })

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined()
    })
  })
}
