import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EmbeddedReplayCache } from '../../src/replay/embedded.js'
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../src/stores/embedded/database.js'
import { EmbeddedTransport } from '../../src/transport/embedded.js'
import type { TransportOptions } from '../../src/transport/types.js'
import { acceptInput, claim, idempotency, message, transportContract, type TransportUnderTest } from './transport.contract.js'

interface Opened {
  dir: string
  db: EmbeddedDatabase
  options: TransportOptions | undefined
}

transportContract('embedded (LMDB)', () => {
  const dirs: string[] = []
  const opened = new WeakMap<TransportUnderTest, Opened>()
  const openAt = (dir: string, options: TransportOptions | undefined): TransportUnderTest => {
    const db = openEmbeddedDatabase(dir)
    // Future skew 0: the contract's epoch rows are about the epoch itself (the skew has its rows in
    // the replay-cache contract).
    const replayCache = new EmbeddedReplayCache(db, { maxFutureSkewSeconds: 0 })
    const subject = {
      transport: new EmbeddedTransport(db, { replay: replayCache.rules, ...options }),
      replayCache,
    }
    opened.set(subject, { dir, db, options })
    return subject
  }
  const close = async (subject: TransportUnderTest): Promise<Opened> => {
    const o = opened.get(subject)
    if (o === undefined) throw new Error('unknown transport')
    await subject.transport.close()
    await o.db.close()
    return o
  }
  return {
    async open(options) {
      const dir = mkdtempSync(join(tmpdir(), 'mecharim-transport-'))
      dirs.push(dir)
      return openAt(dir, options)
    },
    async reopen(subject) {
      const o = await close(subject)
      return openAt(o.dir, o.options)
    },
    // Arrivals are in-process: listeners hear of a commit as soon as accept resolves.
    async arrivalsLive() {},
    async close(subject) {
      await close(subject)
    },
    async teardown() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
    },
  }
})

describe('EmbeddedTransport sweep', () => {
  let dir: string | undefined
  let db: EmbeddedDatabase | undefined
  let transport: EmbeddedTransport | undefined
  afterEach(async () => {
    await transport?.close()
    await db?.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('deletes expired nonces and idempotency records, and nothing that is still live', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mecharim-sweep-'))
    db = openEmbeddedDatabase(dir)
    const cache = new EmbeddedReplayCache(db, { maxFutureSkewSeconds: 0 })
    transport = new EmbeddedTransport(db, { replay: cache.rules })
    const now = Date.now()
    const shortNonce = claim({ now, ttlSeconds: 1 })
    const longNonce = claim({ now, ttlSeconds: 600 })
    expect((await cache.claim(shortNonce)).outcome).toBe('fresh')
    const original = message('alpha', 'beta', { idempotency_key: 'client-1' })
    expect((await transport.accept(acceptInput(original, { claim: longNonce, idempotency: idempotency('client-1'), idempotencyTtlSeconds: 2 }))).outcome)
      .toBe('accepted')

    expect(await transport.sweep(now), 'nothing has expired yet').toBe(0)
    expect(await transport.sweep(now + 1500), 'the short nonce').toBe(1)
    expect(await transport.sweep(now + 2500), 'the idempotency record').toBe(1)

    const later = now + 3000
    expect((await cache.claim({ ...shortNonce, now: later })).outcome).toBe('fresh')
    expect((await cache.claim({ ...longNonce, now: later })).outcome, 'the long nonce is kept').toBe('replayed')
    const retry = message('alpha', 'beta', { idempotency_key: 'client-1' })
    expect((await transport.accept(acceptInput(retry, { claim: claim({ now: later }), idempotency: idempotency('client-1') }))).outcome)
      .toBe('accepted')
  })

  it('does not sweep a nonce that was claimed again after it expired', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mecharim-sweep-'))
    db = openEmbeddedDatabase(dir)
    const cache = new EmbeddedReplayCache(db, { maxFutureSkewSeconds: 0 })
    transport = new EmbeddedTransport(db, { replay: cache.rules })
    const now = Date.now()
    const c = claim({ now, ttlSeconds: 1 })
    await cache.claim(c)
    expect((await cache.claim({ ...c, now: now + 2000, ttlSeconds: 600 })).outcome).toBe('fresh')
    expect(await transport.sweep(now + 3000), 'only the stale expiry entry goes').toBe(0)
    expect((await cache.claim({ ...c, now: now + 4000 })).outcome).toBe('replayed')
  })
})
