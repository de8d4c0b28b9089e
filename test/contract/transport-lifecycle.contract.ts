import { beforeEach, describe, expect, it } from 'vitest'
import type { DeadLetter, DeliveredMessage, DeliveryPolicy, Message, ReadResult, Transport, TransportOptions } from '../../src/transport/types.js'
import { DEFAULT_DEAD_LETTER_TTL_MS, MAX_VISIBILITY_MS } from '../../src/transport/types.js'
import { DELIVERY_FAILED_KIND, receiptKey, sendFailureReceipts, withFailureReceipts } from '../../src/transport/receipts.js'
import { acceptInput, claim, message } from './transport.contract.js'

/** What the lifecycle rows need of the contract's fixture. */
export interface LifecycleFixture {
  transport(): Transport
  open(options?: TransportOptions): Promise<Transport>
}

const VISIBILITY_MS = 200
const HOUR_MS = 3600_000

/**
 * The message lifecycle (issue 14), on a virtual clock: every call is given its `now`, so no row
 * sleeps or depends on how fast the machine is. The store keeps no clock of its own for these.
 */
export function lifecycleRows(fixture: LifecycleFixture): void {
  describe('lifecycle', () => {
    // Per row: an accept's Redis deadline is counted from its claim's `now`.
    let t0 = 0
    beforeEach(() => { t0 = Date.now() })
    const send = async (msg: Message, extra: { deliverAt?: number; expiresAt?: number } = {}, t = fixture.transport()): Promise<void> => {
      expect((await t.accept(acceptInput(msg, { claim: claim({ now: t0 }), ...extra }))).outcome).toBe('accepted')
    }
    const readAt = (recipient: string, now: number, policy?: DeliveryPolicy, limit = 10, t = fixture.transport()): Promise<ReadResult> =>
      t.read(recipient, { limit, visibilityMs: VISIBILITY_MS, now, ...(policy === undefined ? {} : { policy }) })
    const ids = (messages: DeliveredMessage[]): [string, number][] => messages.map((m) => [m.id, m.delivery_count])
    const deadLetter = (msg: Message, reason: DeadLetter['reason'], deliveries: number, at: number, ttl = DEFAULT_DEAD_LETTER_TTL_MS): DeadLetter =>
      ({ message: msg, reason, deliveries, deadLetteredAt: at, expiresAt: at + ttl })

    it('dead-letters a message never acked after exactly maxDeliveries deliveries, waiting the backoff between them', async () => {
      const policy = { maxDeliveries: 3, backoffMs: [1000, 5000], deadLetterTtlMs: 60_000 }
      const msg = message('alpha', 'beta')
      await send(msg)
      let read = await readAt('beta', t0, policy)
      expect(ids(read.messages)).toEqual([[msg.id, 1]])
      expect(read.nextDueAt, 'visibility, then the first backoff').toBe(t0 + VISIBILITY_MS + 1000)
      expect((await readAt('beta', t0 + VISIBILITY_MS + 999, policy)).messages).toEqual([])

      read = await readAt('beta', t0 + 1200, policy)
      expect(ids(read.messages)).toEqual([[msg.id, 2]])
      expect(read.nextDueAt, 'the second backoff').toBe(t0 + 1200 + VISIBILITY_MS + 5000)
      expect((await readAt('beta', t0 + 6399, policy)).messages).toEqual([])

      read = await readAt('beta', t0 + 6400, policy)
      expect(ids(read.messages)).toEqual([[msg.id, 3]])
      expect(read.nextDueAt, 'no backoff after the last delivery').toBe(t0 + 6400 + VISIBILITY_MS)
      expect(read.deadLettered).toEqual([])

      read = await readAt('beta', t0 + 6600, policy)
      expect(read.messages, 'the read that would deliver it a fourth time').toEqual([])
      expect(read.deadLettered).toEqual([deadLetter(msg, 'max_deliveries', 3, t0 + 6600, 60_000)])
      expect(await readAt('beta', t0 + 10_000, policy)).toEqual({ messages: [], nextDueAt: undefined, deadLettered: [] })
      expect(await fixture.transport().deadLetters('beta', { now: t0 + 6600, limit: 10 })).toEqual([deadLetter(msg, 'max_deliveries', 3, t0 + 6600, 60_000)])
      expect(await fixture.transport().ack('beta', [msg.id]), 'a dead letter is not in the inbox').toBe(0)
    })

    it('nack: visible again after the delay, or by default after the backoff; only delivered messages move', async () => {
      const policy = { backoffMs: [3000] }
      const [a, b, waiting] = [message('alpha', 'beta'), message('alpha', 'beta'), message('alpha', 'beta')]
      await send(a)
      await send(b)
      expect(ids((await readAt('beta', t0, policy, 2)).messages)).toEqual([[a.id, 1], [b.id, 1]])
      await send(waiting)
      const t = fixture.transport()
      expect(await t.nack('beta', [a.id], { now: t0 + 10, delayMs: 50, policy }), 'with a delay').toBe(1)
      expect(await t.nack('beta', [b.id], { now: t0 + 10, policy }), 'the backoff').toBe(1)
      expect(await t.nack('beta', [waiting.id, 'msg_unknown'], { now: t0 + 10, policy }), 'never delivered, unknown').toBe(0)
      expect(await t.nack('gamma', [a.id], { now: t0 + 10, policy }), 'another inbox').toBe(0)

      let read = await readAt('beta', t0 + 20, policy)
      expect(ids(read.messages), 'only the waiting one').toEqual([[waiting.id, 1]])
      read = await readAt('beta', t0 + 60, policy)
      expect(ids(read.messages)).toEqual([[a.id, 2]])
      expect(read.nextDueAt, 'b, after its backoff').toBe(t0 + 3010)
      expect((await readAt('beta', t0 + 3009, policy)).messages).toEqual([])
      expect(ids((await readAt('beta', t0 + 3010, policy)).messages)).toEqual([[b.id, 2]])
    })

    it('extend: stays invisible for the time asked, at most 12 hours after its delivery', async () => {
      const msg = message('alpha', 'beta')
      await send(msg)
      await readAt('beta', t0)
      const t = fixture.transport()
      expect(await t.extend('beta', [msg.id], { now: t0 + 100, visibilityMs: 10_000 })).toBe(1)
      expect((await readAt('beta', t0 + 10_099)).messages).toEqual([])
      expect(ids((await readAt('beta', t0 + 10_100)).messages)).toEqual([[msg.id, 2]])
      const delivered = t0 + 10_100

      expect(await t.extend('beta', [msg.id], { now: delivered + HOUR_MS, visibilityMs: 24 * HOUR_MS })).toBe(1)
      const read = await readAt('beta', delivered + MAX_VISIBILITY_MS - 1)
      expect(read.messages).toEqual([])
      expect(read.nextDueAt, 'bounded at 12 h after the delivery').toBe(delivered + MAX_VISIBILITY_MS)
      expect(ids((await readAt('beta', delivered + MAX_VISIBILITY_MS)).messages)).toEqual([[msg.id, 3]])

      const undelivered = message('alpha', 'beta')
      await send(undelivered)
      expect(await t.extend('beta', [undelivered.id], { now: t0, visibilityMs: 1000 }), 'never delivered').toBe(0)
    })

    it('reject: dead-letters a delivered message at once, with reason rejected and the recipient\'s detail', async () => {
      const [msg, waiting] = [message('alpha', 'beta'), message('alpha', 'beta')]
      await send(msg)
      await readAt('beta', t0, undefined, 1)
      await send(waiting)
      const t = fixture.transport()
      const policy = { deadLetterTtlMs: 5000 }
      const rejected = await t.reject('beta', [msg.id, waiting.id, 'msg_unknown'], { now: t0 + 50, detail: 'cannot parse', policy })
      expect(rejected).toEqual([{ ...deadLetter(msg, 'rejected', 1, t0 + 50, 5000), detail: 'cannot parse' }])
      expect(await t.reject('beta', [msg.id], { now: t0 + 60 }), 'already a dead letter').toEqual([])
      expect(await t.deadLetters('beta', { now: t0 + 100, limit: 10 })).toEqual(rejected)
      expect(ids((await readAt('beta', t0 + 10_000)).messages), 'the undelivered one is untouched').toEqual([[waiting.id, 1]])
      expect(await t.deadLetters('beta', { now: t0 + 10_000, limit: 10 }), 'expired after its TTL').toEqual([])
    })

    it('ttl: an expired message is never delivered; the read that finds it due dead-letters it as expired', async () => {
      const [never, inFlight, keeps] = [message('alpha', 'beta'), message('alpha', 'beta'), message('alpha', 'beta')]
      await send(inFlight, { expiresAt: t0 + 1000 })
      expect(ids((await readAt('beta', t0)).messages)).toEqual([[inFlight.id, 1]])
      expect(await fixture.transport().extend('beta', [inFlight.id], { now: t0, visibilityMs: 5000 })).toBe(1)
      await send(never, { expiresAt: t0 + 500 })
      await send(keeps, { expiresAt: t0 + 100_000 })
      let read = await readAt('beta', t0 + 600, undefined, 1)
      expect(read.messages).toEqual([])
      expect(read.deadLettered).toEqual([deadLetter(never, 'expired', 0, t0 + 600)])
      read = await readAt('beta', t0 + 601)
      expect(ids(read.messages)).toEqual([[keeps.id, 1]])
      expect(await fixture.transport().ack('beta', [keeps.id])).toBe(1)
      expect((await readAt('beta', t0 + 602)).nextDueAt, 'the in-flight one expires before its visibility lapses').toBe(t0 + 1000)
      read = await readAt('beta', t0 + 1000)
      expect(read.messages).toEqual([])
      expect(read.deadLettered).toEqual([deadLetter(inFlight, 'expired', 1, t0 + 1000)])
      expect(await fixture.transport().ack('beta', [inFlight.id]), 'too late to ack').toBe(0)
    })

    it('deliver_after: a deferred message is not delivered early, and the next due time says when', async () => {
      const [later, now] = [message('alpha', 'beta'), message('alpha', 'beta')]
      await send(later, { deliverAt: t0 + 5000 })
      await send(now)
      let read = await readAt('beta', t0)
      expect(ids(read.messages)).toEqual([[now.id, 1]])
      expect(await fixture.transport().ack('beta', [now.id])).toBe(1)
      read = await readAt('beta', t0 + 4999)
      expect(read).toEqual({ messages: [], nextDueAt: t0 + 5000, deadLettered: [] })
      expect(await fixture.transport().ack('beta', [later.id]), 'not delivered yet').toBe(0)
      expect(ids((await readAt('beta', t0 + 5000)).messages)).toEqual([[later.id, 1]])
    })

    it('dead letters: listed by id in pages, redriven with the same id and a fresh count, purged', async () => {
      const msgs = Array.from({ length: 4 }, () => message('alpha', 'beta')).sort((x, y) => (x.id < y.id ? -1 : 1))
      for (const msg of msgs) await send(msg, { expiresAt: t0 + 10 })
      const read = await readAt('beta', t0 + 10)
      expect(read.deadLettered.map((d) => d.message.id).sort()).toEqual(msgs.map((m) => m.id))
      const t = fixture.transport()
      const page = await t.deadLetters('beta', { now: t0 + 20, limit: 2 })
      expect(page.map((d) => d.message.id)).toEqual(msgs.slice(0, 2).map((m) => m.id))
      const next = await t.deadLetters('beta', { now: t0 + 20, limit: 10, after: msgs[1]?.id })
      expect(next.map((d) => d.message.id)).toEqual(msgs.slice(2).map((m) => m.id))

      const [first, second, third] = msgs as [Message, Message, Message, Message]
      expect(await t.redrive('beta', [first.id, 'msg_unknown'], { now: t0 + 30 })).toBe(1)
      expect(await t.redrive('gamma', [second.id], { now: t0 + 30 }), 'another inbox').toBe(0)
      expect(await t.purge('beta', [second.id], { now: t0 + 30 })).toBe(1)
      expect(await t.purge('beta', [second.id], { now: t0 + 30 })).toBe(0)
      expect((await t.deadLetters('beta', { now: t0 + 40, limit: 10 })).map((d) => d.message.id)).toEqual(msgs.slice(2).map((m) => m.id))

      const again = await readAt('beta', t0 + 40)
      expect(again.messages, 'same id, fresh count, no longer expiring').toEqual([{ ...first, delivery_count: 1 }])
      expect(await t.ack('beta', [first.id])).toBe(1)
      expect(await t.redrive('beta', [third.id], { now: t0 + 50 })).toBe(1)
      expect(ids((await readAt('beta', t0 + 50)).messages)).toEqual([[third.id, 1]])
    })

    it('dead letters count against the inbox byte budget until they expire or are purged', async () => {
      const probe = message('alpha', 'beta', { payload: 'x'.repeat(1000) })
      const size = Buffer.byteLength(JSON.stringify(probe))
      const t = await fixture.open({ inboxMaxBytes: 2 * size + 100, senderShare: 1 })
      t0 = Date.now()
      const policy = { deadLetterTtlMs: 1000 }
      await send(probe, {}, t)
      await send(message('alpha', 'beta', { payload: 'x'.repeat(1000) }), {}, t)
      const read = await readAt('beta', t0, policy, 10, t)
      expect(await t.reject('beta', read.messages.map((m) => m.id), { now: t0 + 1, policy })).toHaveLength(2)
      const full = await t.accept(acceptInput(message('alpha', 'beta', { payload: 'x'.repeat(1000) }), { claim: claim({ now: t0 + 2 }) }))
      expect(full, 'the dead letters hold the bytes').toEqual({ outcome: 'inbox_full', by: 'bytes' })
      expect(await t.purge('beta', [probe.id], { now: t0 + 3 })).toBe(1)
      await send(message('alpha', 'beta', { payload: 'x'.repeat(1000) }), {}, t)
      const stillFull = await t.accept(acceptInput(message('alpha', 'beta', { payload: 'x'.repeat(1000) }), { claim: claim({ now: t0 + 4 }) }))
      expect(stillFull.outcome).toBe('inbox_full')
      const later = await t.accept(acceptInput(message('alpha', 'beta', { payload: 'x'.repeat(1000) }), { claim: claim({ now: t0 + 1001 }) }))
      expect(later.outcome, 'the other dead letter expired, and its bytes with it').toBe('accepted')
      expect(await t.deadLetters('beta', { now: t0 + 1001, limit: 10 })).toEqual([])
    })

    it('another mecha can neither see nor move someone else\'s messages or dead letters', async () => {
      const [rejected, inFlight] = [message('alpha', 'beta'), message('alpha', 'beta')]
      await send(rejected)
      await send(inFlight)
      await readAt('beta', t0)
      const t = fixture.transport()
      expect(await t.reject('beta', [rejected.id], { now: t0 + 1 })).toHaveLength(1)
      const both = [rejected.id, inFlight.id]
      expect(await t.nack('gamma', both, { now: t0 + 2, delayMs: 0 })).toBe(0)
      expect(await t.extend('gamma', both, { now: t0 + 2, visibilityMs: 1000 })).toBe(0)
      expect(await t.reject('gamma', both, { now: t0 + 2 })).toEqual([])
      expect(await t.deadLetters('gamma', { now: t0 + 2, limit: 10 })).toEqual([])
      expect(await t.redrive('gamma', both, { now: t0 + 2 })).toBe(0)
      expect(await t.purge('gamma', both, { now: t0 + 2 })).toBe(0)
      expect((await readAt('gamma', t0 + 10_000)).messages).toEqual([])
      expect((await t.deadLetters('beta', { now: t0 + 3, limit: 10 })).map((d) => d.message.id)).toEqual([rejected.id])
      expect(ids((await readAt('beta', t0 + VISIBILITY_MS)).messages)).toEqual([[inFlight.id, 2]])
    })

    it('tells the sender: a mecha.delivery.failed receipt in its inbox, once, unless it opted out', async () => {
      const undelivered: string[] = []
      const t = withFailureReceipts(fixture.transport(), { idempotencyTtlSeconds: 3600, onUndelivered: (d, why) => undelivered.push(`${d.message.id}: ${String(why)}`) })
      const policy = { maxDeliveries: 1 }
      const [poison, quiet] = [message('alpha', 'beta'), message('gamma', 'beta', { receipts: false })]
      await send(poison)
      await send(quiet)
      expect((await readAt('beta', t0, policy, 10, t)).messages).toHaveLength(2)
      const dead = await readAt('beta', t0 + VISIBILITY_MS, policy, 10, t)
      expect(dead.deadLettered.map((d) => d.message.id).sort()).toEqual([poison.id, quiet.id].sort())

      const receipts = (await readAt('alpha', t0 + VISIBILITY_MS, undefined, 10, t)).messages
      expect(receipts).toHaveLength(1)
      expect(receipts[0]).toMatchObject({
        from: 'beta', to: 'alpha', kind: DELIVERY_FAILED_KIND, reply_to: poison.id, idempotency_key: receiptKey(poison.id),
        payload: { message_id: poison.id, to: 'beta', reason: 'max_deliveries', deliveries: 1, dead_lettered_at: new Date(t0 + VISIBILITY_MS).toISOString() },
      })
      expect((await readAt('gamma', t0 + VISIBILITY_MS, undefined, 10, t)).messages, 'receipts: false').toEqual([])

      // A retried receipt (the same dead letter told again) is not delivered twice.
      expect(await sendFailureReceipts(fixture.transport(), dead.deadLettered, t0 + 1000, { idempotencyTtlSeconds: 3600 })).toBe(1)
      expect((await readAt('alpha', t0 + 10_000, undefined, 10, t)).messages.map((m) => m.id)).toEqual([receipts[0]?.id])

      // A receipt that dies in its turn begets none.
      expect(await t.reject('alpha', [receipts[0]?.id ?? ''], { now: t0 + 10_001 })).toHaveLength(1)
      expect((await readAt('beta', t0 + 10_002, undefined, 10, t)).messages).toEqual([])
      expect(undelivered).toEqual([])
    })

    it('rejects malformed lifecycle arguments before touching storage', async () => {
      const t = fixture.transport()
      await expect(t.read('beta', { limit: 1, visibilityMs: VISIBILITY_MS, now: t0, policy: { maxDeliveries: 0 } })).rejects.toBeInstanceOf(RangeError)
      await expect(t.read('beta', { limit: 1, visibilityMs: VISIBILITY_MS, now: t0, policy: { backoffMs: [-1] } })).rejects.toBeInstanceOf(RangeError)
      await expect(t.nack('beta', ['msg_x'], { now: t0, delayMs: -5 })).rejects.toBeInstanceOf(RangeError)
      await expect(t.extend('beta', ['msg_x'], { now: t0, visibilityMs: 0 })).rejects.toBeInstanceOf(RangeError)
      await expect(t.reject('', ['msg_x'], { now: t0 })).rejects.toBeInstanceOf(TypeError)
      await expect(t.reject('beta', ['msg_x'], { now: t0, detail: 'x'.repeat(257) })).rejects.toBeInstanceOf(RangeError)
      await expect(t.deadLetters('beta', { now: t0, limit: -1 })).rejects.toBeInstanceOf(RangeError)
      await expect(t.redrive('beta', [''], { now: t0 })).rejects.toBeInstanceOf(TypeError)
      await expect(t.accept(acceptInput(message('alpha', 'beta'), { claim: claim({ now: t0 }), expiresAt: Number.NaN }))).rejects.toBeInstanceOf(RangeError)
    })
  })
}
