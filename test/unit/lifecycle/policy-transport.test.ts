import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { withDeliveryPolicies } from '../../../src/lifecycle/policy-transport.js'
import { EmbeddedReplayCache } from '../../../src/replay/embedded.js'
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../../src/stores/embedded/database.js'
import { EmbeddedTransport } from '../../../src/transport/embedded.js'
import type { Transport } from '../../../src/transport/types.js'
import type { DeliverySettings } from '../../../src/model.js'
import { acceptInput, claim, message } from '../../contract/transport.contract.js'

describe('withDeliveryPolicies: every read and nack without a policy gets the recipient\'s', () => {
  let dir: string
  let db: EmbeddedDatabase
  let inner: Transport
  const policies: Record<string, DeliverySettings> = {
    beta: { max_deliveries: 2, backoff_seconds: [10], visibility_seconds: 1, dead_letter_ttl_seconds: 60 },
  }
  const defaults: DeliverySettings = { max_deliveries: 5, backoff_seconds: [], visibility_seconds: 30, dead_letter_ttl_seconds: 1_209_600 }
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mecharim-policy-'))
    db = openEmbeddedDatabase(dir)
    inner = new EmbeddedTransport(db, { replay: new EmbeddedReplayCache(db, { maxFutureSkewSeconds: 0 }).rules })
  })
  afterEach(async () => {
    await inner.close()
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('reads with the recipient\'s visibility, backoff and limit, in place of the caller\'s visibility', async () => {
    const t = withDeliveryPolicies(inner, async (mecha) => policies[mecha] ?? defaults)
    const now = Date.now()
    const msg = message('alpha', 'beta')
    await t.accept(acceptInput(msg, { claim: claim({ now }) }))
    const first = await t.read('beta', { limit: 10, visibilityMs: 30_000, now })
    expect(first.messages.map((m) => m.delivery_count)).toEqual([1])
    expect(first.nextDueAt, 'its 1 s visibility and 10 s backoff').toBe(now + 11_000)
    expect((await t.read('beta', { limit: 10, visibilityMs: 30_000, now: now + 11_000 })).messages.map((m) => m.delivery_count)).toEqual([2])
    const dead = await t.read('beta', { limit: 10, visibilityMs: 30_000, now: now + 12_000 })
    expect(dead.deadLettered.map((d) => [d.reason, d.deliveries, d.expiresAt])).toEqual([['max_deliveries', 2, now + 12_000 + 60_000]])
  })

  it('leaves a call that brings its own policy alone', async () => {
    const t = withDeliveryPolicies(inner, async () => { throw new Error('not asked') })
    const now = Date.now()
    await t.accept(acceptInput(message('alpha', 'beta'), { claim: claim({ now }) }))
    const read = await t.read('beta', { limit: 10, visibilityMs: 500, now, policy: {} })
    expect(read.nextDueAt).toBe(now + 500)
  })
})
