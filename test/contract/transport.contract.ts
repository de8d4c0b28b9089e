import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ReplayCache } from '../../src/replay/types.js'
import type { StoragePressure } from '../../src/stores/high-water.js'
import type {
  AcceptInput, AcceptResult, DeliveredMessage, IdempotencyClaim, Message, MessageAcceptance, NonceClaim, Transport, TransportOptions,
} from '../../src/transport/types.js'
import { lifecycleRows } from './transport-lifecycle.contract.js'

/** A transport and the replay cache that shares its nonce records. */
export interface TransportUnderTest {
  transport: Transport
  replayCache: ReplayCache
}


export interface TransportHarness {
  /** A fresh, empty transport (and replay cache), with these inbox budgets and storage mark. */
  open(options?: TransportOptions): Promise<TransportUnderTest>
  /** Close and reopen the same backing data (a process restart). */
  reopen(subject: TransportUnderTest): Promise<TransportUnderTest>
  /** Resolves once arrivals accepted anywhere reach this transport's listeners (a live subscription). */
  arrivalsLive(subject: TransportUnderTest, recipients: string[]): Promise<void>
  /** Close the transport and whatever the harness opened for it. */
  close(subject: TransportUnderTest): Promise<void>
  teardown(): Promise<void>
}

const VISIBILITY_MS = 200
/** Longer than VISIBILITY_MS by Redis's clock too: XAUTOCLAIM measures idle time on the server. */
const PAST_VISIBILITY_MS = 300
const TTL_SECONDS = 600
const IDEMPOTENCY_TTL_SECONDS = 3600

export function message(from: string, to: string, overrides: Partial<Message> = {}): Message {
  return {
    id: `msg_${randomUUID()}`,
    from,
    to,
    kind: 'note',
    payload: { text: 'hello', n: 1, nested: [true, null, 'x'] },
    reply_to: null,
    idempotency_key: null,
    accepted_at: new Date().toISOString(),
    ...overrides,
  }
}

/** What a 202 answers for a message (and what an idempotent retry gets back). */
export function acceptance(msg: Message): MessageAcceptance {
  return { id: msg.id, from: msg.from, to: msg.to, kind: msg.kind, accepted_at: msg.accepted_at }
}

/** An idempotency claim: the sender's key and the SHA-256 (hex) of its request. */
export function idempotency(key: string, requestSha256: string = 'a'.repeat(64)): IdempotencyClaim {
  return { key, requestSha256 }
}

export function claim(overrides: Partial<NonceClaim> = {}): NonceClaim {
  const now = overrides.now ?? Date.now()
  return { keyId: 'mkalpha', nonce: randomUUID(), target: 'beta', timestamp: Math.floor(now / 1000), ttlSeconds: TTL_SECONDS, now, ...overrides }
}

/** An accept that records a nonce (the usual case: the request's claim, targeting the recipient). */
export function acceptInput(msg: Message, overrides: Partial<Omit<AcceptInput, 'claim'>> & { claim?: NonceClaim } = {}): AcceptInput & { claim: NonceClaim } {
  const { claim: nonce, ...rest } = overrides
  // An accept's claim targets the message's recipient (NonceClaim.target).
  return { claim: { ...(nonce ?? claim()), target: msg.to }, message: msg, idempotency: null, idempotencyTtlSeconds: IDEMPOTENCY_TTL_SECONDS, ...rest }
}

/** A storage high-water mark the test switches, recording the bytes the transport says it stored. */
export interface SwitchablePressure extends StoragePressure {
  full: boolean
  readonly storedBytes: number[]
}

export function switchablePressure(): SwitchablePressure {
  const pressure: SwitchablePressure = {
    full: false,
    storedBytes: [],
    refuses: () => pressure.full,
    stored: (bytes) => { pressure.storedBytes.push(bytes) },
  }
  return pressure
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** The Transport contract: every implementation runs exactly this suite. */
export function transportContract(name: string, harness: () => TransportHarness): void {
  describe(`Transport contract: ${name}`, () => {
    let h: TransportHarness
    let opened: TransportUnderTest[]
    let subject: TransportUnderTest
    let transport: Transport

    const open = async (options?: TransportOptions): Promise<TransportUnderTest> => {
      const s = await h.open(options)
      opened.push(s)
      return s
    }
    const send = async (msg: Message, overrides: Parameters<typeof acceptInput>[1] = {}, t: Transport = transport): Promise<AcceptResult> =>
      t.accept(acceptInput(msg, overrides))
    const read = async (recipient: string, limit = 10, t: Transport = transport): Promise<DeliveredMessage[]> =>
      (await t.read(recipient, { limit, visibilityMs: VISIBILITY_MS, now: Date.now() })).messages

    beforeEach(async () => {
      h ??= harness()
      opened = []
      subject = await open()
      transport = subject.transport
    })
    afterEach(async () => {
      for (const s of opened) await h.close(s)
    })
    afterAll(async () => { await h?.teardown() })

    describe('delivery', () => {
      it('delivers an accepted message once, again after the visibility timeout, never after ack', async () => {
        const msg = message('alpha', 'beta')
        expect(await send(msg)).toEqual({ outcome: 'accepted', message: msg })

        expect(await read('beta')).toEqual([{ ...msg, delivery_count: 1 }])
        expect(await read('beta'), 'in flight').toEqual([])

        await sleep(PAST_VISIBILITY_MS)
        expect(await read('beta')).toEqual([{ ...msg, delivery_count: 2 }])

        expect(await transport.ack('beta', [msg.id])).toBe(1)
        await sleep(PAST_VISIBILITY_MS)
        expect(await read('beta')).toEqual([])
        expect(await transport.ack('beta', [msg.id]), 'already removed').toBe(0)
      })

      it('ignores acks of unknown and of undelivered messages', async () => {
        const msg = message('alpha', 'beta')
        await send(msg)
        expect(await transport.ack('beta', ['msg_unknown'])).toBe(0)
        expect(await transport.ack('beta', [msg.id]), 'not delivered yet').toBe(0)
        expect(await transport.ack('gamma', [msg.id]), 'another inbox').toBe(0)
        expect(await read('beta')).toEqual([{ ...msg, delivery_count: 1 }])
        expect(await transport.ack('beta', [msg.id, 'msg_unknown'])).toBe(1)
      })

      it('delivers oldest first and honours the limit', async () => {
        const msgs = Array.from({ length: 5 }, (_, i) => message('alpha', 'beta', { payload: i }))
        for (const msg of msgs) await send(msg)
        expect((await read('beta', 2)).map((m) => m.id)).toEqual([msgs[0]?.id, msgs[1]?.id])
        expect((await read('beta', 10)).map((m) => m.id)).toEqual(msgs.slice(2).map((m) => m.id))
        expect(await read('beta', 0)).toEqual([])
      })

      it('puts redeliveries before newer messages', async () => {
        const [a, b, c] = [message('alpha', 'beta'), message('alpha', 'beta'), message('alpha', 'beta')]
        await send(a)
        await send(b)
        expect((await read('beta', 1)).map((m) => m.id)).toEqual([a.id])
        await sleep(PAST_VISIBILITY_MS)
        await send(c)
        expect((await read('beta')).map((m) => [m.id, m.delivery_count])).toEqual([[a.id, 2], [b.id, 1], [c.id, 1]])
      })

      it('finds a redelivery behind many messages still in flight', async () => {
        // Redis's XAUTOCLAIM examines at most 10 x COUNT pending entries per call: the read must go on.
        const msgs = Array.from({ length: 25 }, () => message('alpha', 'beta'))
        for (const msg of msgs) await send(msg)
        expect(await read('beta', 25)).toHaveLength(25)
        await sleep(PAST_VISIBILITY_MS)
        expect((await read('beta', 24)).map((m) => m.id)).toEqual(msgs.slice(0, 24).map((m) => m.id))
        expect(await read('beta', 1)).toEqual([{ ...msgs[24], delivery_count: 2 }])
      })

      it('keeps inboxes apart', async () => {
        const toBeta = message('alpha', 'beta')
        const toGamma = message('alpha', 'gamma')
        await send(toBeta)
        await send(toGamma)
        expect((await read('beta')).map((m) => m.id)).toEqual([toBeta.id])
        expect((await read('gamma')).map((m) => m.id)).toEqual([toGamma.id])
        expect(await read('delta')).toEqual([])
        expect(await transport.ack('gamma', [toBeta.id])).toBe(0)
      })
    })

    describe('refusals', () => {
      it('refuses a replayed nonce and stores nothing', async () => {
        const first = acceptInput(message('alpha', 'beta'))
        expect((await transport.accept(first)).outcome).toBe('accepted')
        const second = message('alpha', 'beta')
        expect(await transport.accept({ ...first, message: second })).toEqual({ outcome: 'replayed' })
        expect((await read('beta')).map((m) => m.id)).toEqual([first.message.id])
      })

      it('returns the original acceptance for the same key and request, and delivers once', async () => {
        const original = message('alpha', 'beta', { idempotency_key: 'order-1', accepted_at: '2030-01-01T00:00:00.000Z' })
        expect(await send(original, { idempotency: idempotency('order-1') })).toEqual({ outcome: 'accepted', message: original })
        const retry = message('alpha', 'beta', { idempotency_key: 'order-1', accepted_at: '2030-01-01T00:00:05.000Z' })
        const nonce = claim()
        expect(await send(retry, { idempotency: idempotency('order-1'), claim: nonce })).toEqual({ outcome: 'duplicate', acceptance: acceptance(original) })
        expect(await read('beta')).toEqual([{ ...original, delivery_count: 1 }])
        // The duplicate's request was authenticated: its nonce is spent all the same.
        expect(await send(message('alpha', 'beta'), { claim: nonce })).toEqual({ outcome: 'replayed' })
      })

      it('refuses the same key with a different request, stores nothing and spends the nonce', async () => {
        const original = message('alpha', 'beta', { idempotency_key: 'order-2' })
        expect((await send(original, { idempotency: idempotency('order-2', 'a'.repeat(64)) })).outcome).toBe('accepted')
        const other = acceptInput(message('alpha', 'beta', { idempotency_key: 'order-2', payload: 'changed' }), { idempotency: idempotency('order-2', 'b'.repeat(64)) })
        expect(await transport.accept(other)).toEqual({ outcome: 'idempotency_key_reused' })
        expect(await transport.accept(other), 'the refused request spent its nonce').toEqual({ outcome: 'replayed' })
        expect((await read('beta')).map((m) => m.id)).toEqual([original.id])
      })

      it('keeps the same idempotency key of two senders apart: two messages, and an ack of one leaves the other', async () => {
        const fromAlpha = message('alpha', 'beta', { idempotency_key: 'shared-key' })
        const fromGamma = message('gamma', 'beta', { idempotency_key: 'shared-key' })
        expect((await send(fromAlpha, { idempotency: idempotency('shared-key') })).outcome).toBe('accepted')
        expect((await send(fromGamma, { idempotency: idempotency('shared-key') })).outcome).toBe('accepted')
        const delivered = await read('beta')
        expect(delivered.map((m) => [m.from, m.idempotency_key])).toEqual([['alpha', 'shared-key'], ['gamma', 'shared-key']])
        expect(new Set(delivered.map((m) => m.id)).size).toBe(2)
        expect(await transport.ack('beta', [fromAlpha.id])).toBe(1)
        await sleep(PAST_VISIBILITY_MS)
        expect(await read('beta')).toEqual([{ ...fromGamma, delivery_count: 2 }])
      })

      it('refuses to store a message whose id is already in the inbox (ids are unique per inbox)', async () => {
        const first = message('alpha', 'beta')
        expect((await send(first)).outcome).toBe('accepted')
        await expect(send(message('gamma', 'beta', { id: first.id }))).rejects.toThrow(/already/)
        expect(await read('beta')).toEqual([{ ...first, delivery_count: 1 }])
      })

      it('refuses requests signed before the epoch, which the first claim sets', async () => {
        const now = Date.now()
        const epoch = Math.floor(now / 1000)
        const early = acceptInput(message('alpha', 'beta'), { claim: claim({ now, timestamp: epoch - 5 }) })
        expect(await transport.accept(early), 'the first claim sets the epoch, then refuses').toEqual({ outcome: 'before_epoch', epoch })
        const ok = message('alpha', 'beta')
        expect((await send(ok, { claim: claim({ now: now + 2000, timestamp: epoch }) })).outcome).toBe('accepted')
        const stale = acceptInput(message('alpha', 'beta'), { claim: claim({ now: now + 3000, timestamp: epoch - 1 }) })
        expect(await transport.accept(stale)).toEqual({ outcome: 'before_epoch', epoch })
        expect((await read('beta')).map((m) => m.id)).toEqual([ok.id])
        // Nothing was recorded for the refused requests: their nonces are still fresh.
        expect((await transport.accept({ ...stale, claim: { ...stale.claim, timestamp: epoch } })).outcome).toBe('accepted')
      })

      it('accepts a message with no nonce claim (a gateway-sent or fanned-out delivery), recording no nonce', async () => {
        const first = acceptInput(message('alpha', 'beta'))
        expect((await transport.accept(first)).outcome).toBe('accepted')
        // The second delivery of the same request: its nonce was recorded with the first, none here.
        const second = message('alpha', 'gamma')
        expect(await transport.accept({ ...acceptInput(second), claim: null, now: Date.now() })).toEqual({ outcome: 'accepted', message: second })
        expect((await read('gamma')).map((m) => m.id)).toEqual([second.id])
        // No nonce was recorded in its place (an empty one would refuse the next as a replay).
        const third = message('alpha', 'gamma')
        expect((await transport.accept({ ...acceptInput(third), claim: null, now: Date.now() })).outcome).toBe('accepted')
        expect((await read('gamma')).map((m) => m.id)).toEqual([third.id])
        await expect(transport.accept({ ...acceptInput(message('alpha', 'beta')), claim: null }), 'no claim and no now').rejects.toThrow(TypeError)
      })

      it('keeps a message\'s session and deduplicates unclaimed deliveries by idempotency key', async () => {
        const msg = { ...message('alpha', 'beta'), session: 'ses_01testsession', idempotency_key: 'session:ses_01testsession:started' }
        const input = { ...acceptInput(msg, { idempotency: idempotency('session:ses_01testsession:started') }), claim: null, now: Date.now() }
        expect((await transport.accept(input)).outcome).toBe('accepted')
        const again = { ...input, message: { ...msg, id: message('alpha', 'beta').id } }
        expect((await transport.accept(again)).outcome, 'a retried notification is not delivered twice').toBe('duplicate')
        const delivered = await read('beta')
        expect(delivered.map((m) => [m.id, m.session])).toEqual([[msg.id, 'ses_01testsession']])
      })

      it('a per-recipient idempotency claim keeps one record per recipient of the same sender and key', async () => {
        const key = idempotency('fan-out-1')
        const to = (recipient: string) => ({ ...message('alpha', recipient), idempotency_key: 'fan-out-1' })
        const [beta, gamma] = [to('beta'), to('gamma')]
        expect((await send(beta, { idempotency: { ...key, perRecipient: true } })).outcome).toBe('accepted')
        expect((await send(gamma, { idempotency: { ...key, perRecipient: true } })).outcome, 'another recipient: its own record').toBe('accepted')
        expect(await send(to('gamma'), { idempotency: { ...key, perRecipient: true } })).toEqual({ outcome: 'duplicate', acceptance: expect.objectContaining({ id: gamma.id, to: 'gamma' }) })
        expect((await send(to('beta'), { idempotency: { ...key, perRecipient: true } })).outcome).toBe('duplicate')
        expect((await read('gamma')).map((m) => m.id)).toEqual([gamma.id])
      })

      it('refuses when the inbox is full, and an ack makes room', async () => {
        const small = (await open({ inboxLimit: 3, senderShare: 1 })).transport
        const msgs = Array.from({ length: 3 }, () => message('alpha', 'beta'))
        for (const msg of msgs) expect((await send(msg, {}, small)).outcome).toBe('accepted')
        const fourth = acceptInput(message('alpha', 'beta'))
        expect(await small.accept(fourth)).toEqual({ outcome: 'inbox_full', by: 'messages' })
        expect(await small.accept(fourth), 'the refused request spent its nonce').toEqual({ outcome: 'replayed' })
        expect((await send(message('alpha', 'gamma'), {}, small)).outcome, 'other inboxes are not affected').toBe('accepted')

        const [first] = await read('beta', 1, small)
        expect(await small.ack('beta', [first?.id ?? ''])).toBe(1)
        expect((await send(message('alpha', 'beta'), {}, small)).outcome).toBe('accepted')
        expect((await send(message('alpha', 'beta'), {}, small)).outcome).toBe('inbox_full')
      })

      it('refuses a sender over its share of the messages while another sender still gets through', async () => {
        const shared = (await open({ inboxLimit: 4, senderShare: 0.5 })).transport
        for (let i = 0; i < 2; i++) expect((await send(message('alpha', 'beta'), {}, shared)).outcome).toBe('accepted')
        expect(await send(message('alpha', 'beta'), {}, shared)).toEqual({ outcome: 'sender_share_exceeded', by: 'messages' })
        expect((await send(message('gamma', 'beta'), {}, shared)).outcome, 'another sender to the same inbox').toBe('accepted')
        expect((await send(message('alpha', 'delta'), {}, shared)).outcome, 'the same sender to another inbox').toBe('accepted')

        // An ack gives the sender its share back.
        const delivered = await read('beta', 10, shared)
        const fromAlpha = delivered.filter((m) => m.from === 'alpha').map((m) => m.id)
        expect(await shared.ack('beta', fromAlpha.slice(0, 1))).toBe(1)
        expect((await send(message('alpha', 'beta'), {}, shared)).outcome).toBe('accepted')
        expect((await send(message('alpha', 'beta'), {}, shared)).outcome).toBe('sender_share_exceeded')
      })

      it('keeps a byte budget per inbox and a share of it per sender; an ack gives the bytes back', async () => {
        const big = (from: string, size = 1000): Message => message(from, 'beta', { payload: 'x'.repeat(size) })
        const probe = big('alpha')
        const size = Buffer.byteLength(JSON.stringify(probe))
        // Four such messages and a little in all; a sender may hold half: two, and a small one.
        const budget = (await open({ inboxMaxBytes: 4 * size + 600, senderShare: 0.5 })).transport
        expect((await send(probe, {}, budget)).outcome).toBe('accepted')
        expect((await send(big('alpha'), {}, budget)).outcome).toBe('accepted')
        expect(await send(big('alpha'), {}, budget)).toEqual({ outcome: 'sender_share_exceeded', by: 'bytes' })
        expect((await send(big('alpha', 10), {}, budget)).outcome, 'a small one still fits the share').toBe('accepted')
        expect((await send(big('gamma'), {}, budget)).outcome).toBe('accepted')
        expect((await send(big('gamma'), {}, budget)).outcome).toBe('accepted')
        expect(await send(big('delta'), {}, budget), 'a third sender finds the inbox full by bytes').toEqual({ outcome: 'inbox_full', by: 'bytes' })

        const [first] = await read('beta', 1, budget)
        expect(first?.id).toBe(probe.id)
        expect(await budget.ack('beta', [probe.id])).toBe(1)
        expect((await send(big('delta'), {}, budget)).outcome, 'the acked bytes are free again').toBe('accepted')
      })
    })

    describe('storage high-water mark', () => {
      it('refuses new messages with storage_full while the store is over its mark: nothing stored, not even the nonce or the idempotency record', async () => {
        const pressure = switchablePressure()
        const { transport: t, replayCache } = await open({ pressure })
        pressure.full = true
        const msg = message('alpha', 'beta', { idempotency_key: 'order-1' })
        const input = acceptInput(msg, { idempotency: idempotency('order-1') })
        expect(await t.accept(input)).toEqual({ outcome: 'storage_full' })
        expect(await read('beta', 10, t)).toEqual([])
        expect(pressure.storedBytes, 'nothing counted').toEqual([])

        pressure.full = false
        expect(await t.accept(input), 'the same request once there is room: its nonce is still fresh, its key unused').toEqual({ outcome: 'accepted', message: msg })
        expect(await replayCache.claim(input.claim), 'now it is recorded').toEqual({ outcome: 'replayed' })
        expect((await read('beta', 10, t)).map((m) => m.id)).toEqual([msg.id])
      })

      it('keeps reads, acks and nonce claims working over the mark', async () => {
        const pressure = switchablePressure()
        const { transport: t, replayCache } = await open({ pressure })
        const msg = message('alpha', 'beta')
        expect((await send(msg, {}, t)).outcome).toBe('accepted')
        pressure.full = true
        expect((await read('beta', 10, t)).map((m) => m.id)).toEqual([msg.id])
        expect(await t.ack('beta', [msg.id])).toBe(1)
        expect(await replayCache.claim(claim()), 'a read\'s or whoami\'s nonce').toEqual({ outcome: 'fresh' })
        expect((await send(message('gamma', 'delta'), {}, t)).outcome, 'every sender, every inbox').toBe('storage_full')
      })

      it('tells the mark the bytes of each message it stored, and nothing for a refusal', async () => {
        const pressure = switchablePressure()
        const t = (await open({ pressure, inboxLimit: 1 })).transport
        const msg = message('alpha', 'beta', { payload: 'x'.repeat(500) })
        const input = acceptInput(msg)
        expect((await t.accept(input)).outcome).toBe('accepted')
        expect((await t.accept(acceptInput(message('alpha', 'beta'), { claim: input.claim }))).outcome).toBe('replayed')
        expect((await send(message('alpha', 'beta'), {}, t)).outcome).toBe('inbox_full')
        expect(pressure.storedBytes).toEqual([Buffer.byteLength(JSON.stringify(msg), 'utf8')])
      })

      it('fails closed when the store cannot be sampled: a transport fault, nothing stored', async () => {
        const pressure = switchablePressure()
        const t = (await open({ pressure })).transport
        pressure.refuses = () => Promise.reject(new Error('INFO memory failed'))
        await expect(send(message('alpha', 'beta'), {}, t)).rejects.toMatchObject({ name: 'DependencyUnavailableError', dependency: 'transport' })
        expect(await read('beta', 10, t)).toEqual([])
      })
    })

    describe('next due (when a waiting reader must read again)', () => {
      const readWithDue = (recipient: string, limit = 10): ReturnType<Transport['read']> =>
        transport.read(recipient, { limit, visibilityMs: VISIBILITY_MS, now: Date.now() })

      it('is undefined while nothing is in flight, and once everything is acknowledged', async () => {
        expect(await readWithDue('beta')).toEqual({ messages: [], nextDueAt: undefined, deadLettered: [] })
        const msg = message('alpha', 'beta')
        await send(msg)
        const { messages } = await readWithDue('beta')
        expect(messages.map((m) => m.id)).toEqual([msg.id])
        expect(await transport.ack('beta', [msg.id])).toBe(1)
        expect(await readWithDue('beta')).toEqual({ messages: [], nextDueAt: undefined, deadLettered: [] })
      })

      it('is the visibility timeout after a delivery, on that read and on the empty reads after it', async () => {
        await send(message('alpha', 'beta'))
        const before = Date.now()
        const first = await readWithDue('beta')
        const after = Date.now()
        expect(first.messages).toHaveLength(1)
        expect(first.nextDueAt).toBeGreaterThanOrEqual(before + VISIBILITY_MS - 50)
        expect(first.nextDueAt).toBeLessThanOrEqual(after + VISIBILITY_MS + 50)
        const empty = await readWithDue('beta')
        expect(empty.messages, 'in flight').toEqual([])
        expect(empty.nextDueAt).toBeGreaterThanOrEqual(before + VISIBILITY_MS - 50)
        expect(empty.nextDueAt).toBeLessThanOrEqual(Date.now() + VISIBILITY_MS + 50)
      })

      it('is the earliest delivery, not the oldest message: a redelivered message goes to the back', async () => {
        // Its own, longer timeout: a must be due again while b is not, with room for a slow machine.
        const visibilityMs = 800
        const readSlow = (): ReturnType<Transport['read']> => transport.read('beta', { limit: 10, visibilityMs, now: Date.now() })
        const a = message('alpha', 'beta')
        const b = message('alpha', 'beta')
        await send(a)
        expect((await readSlow()).messages.map((m) => m.id)).toEqual([a.id])
        await sleep(400)
        await send(b)
        expect((await readSlow()).messages.map((m) => m.id)).toEqual([b.id])
        await sleep(500)
        const readAt = Date.now()
        const again = await readSlow()
        expect(again.messages.map((m) => [m.id, m.delivery_count])).toEqual([[a.id, 2]])
        // b was delivered 400 ms after a's first delivery, so it falls due about 300 ms from now; a,
        // delivered again just now, not before 800 ms. The pending list's order (by id) would say a.
        expect(again.nextDueAt).toBeLessThan(readAt + 600)
      })

      it('is now when the read returned a full batch (more may be visible)', async () => {
        for (let i = 0; i < 3; i++) await send(message('alpha', 'beta'))
        const full = await readWithDue('beta', 2)
        expect(full.messages).toHaveLength(2)
        expect(full.nextDueAt).toBeLessThanOrEqual(Date.now())
      })
    })

    describe('replay cache sharing', () => {
      it('a nonce claimed through the replay cache is replayed for accept, and the reverse', async () => {
        const byCache = claim()
        expect(await subject.replayCache.claim(byCache)).toEqual({ outcome: 'fresh' })
        expect(await send(message('alpha', 'beta'), { claim: byCache })).toEqual({ outcome: 'replayed' })

        const byAccept = claim()
        expect((await send(message('alpha', 'beta'), { claim: byAccept })).outcome).toBe('accepted')
        expect(await subject.replayCache.claim(byAccept)).toEqual({ outcome: 'replayed' })
      })

      it('of 50 concurrent accepts with one nonce, exactly one is accepted', async () => {
        const shared = claim()
        const results = await Promise.all(
          Array.from({ length: 50 }, () => send(message('alpha', 'beta'), { claim: { ...shared } })),
        )
        expect(results.filter((r) => r.outcome === 'accepted')).toHaveLength(1)
        expect(results.filter((r) => r.outcome === 'replayed')).toHaveLength(49)
        expect(await read('beta')).toHaveLength(1)
      })
    })

    describe('arrivals', () => {
      // A listener may also be called once its announcements go live (see Transport.onArrival), so
      // these assert what must and must not be heard rather than an exact sequence.
      it('tells listeners of their own recipient, until they unsubscribe', async () => {
        const heard: string[] = []
        const stopBeta = transport.onArrival('beta', () => heard.push('beta'))
        transport.onArrival('gamma', () => heard.push('gamma'))
        await h.arrivalsLive(subject, ['beta', 'gamma'])

        await send(message('alpha', 'delta'))
        await send(message('alpha', 'beta'))
        await until(() => heard.includes('beta'))

        stopBeta()
        heard.length = 0
        await send(message('alpha', 'beta'))
        await send(message('alpha', 'gamma'))
        await until(() => heard.includes('gamma'))
        expect(heard, 'an unsubscribed listener hears nothing').not.toContain('beta')
      })
    })

    lifecycleRows({ transport: () => transport, open: async (options) => (await open(options)).transport })

    describe('arrivals of the lifecycle', () => {
      it('a nack and a redrive wake the recipient\'s listeners: what they made due is read at once', async () => {
        const msg = message('alpha', 'beta')
        await send(msg)
        expect(await read('beta')).toHaveLength(1)
        let heard = 0
        transport.onArrival('beta', () => heard++)
        await h.arrivalsLive(subject, ['beta'])
        heard = 0
        expect(await transport.nack('beta', [msg.id], { now: Date.now(), delayMs: 0 })).toBe(1)
        await until(() => heard > 0)
        heard = 0
        expect(await transport.reject('beta', [msg.id], { now: Date.now() })).toHaveLength(1)
        expect(await transport.redrive('beta', [msg.id], { now: Date.now() })).toBe(1)
        await until(() => heard > 0)
      })
    })

    describe('durability', () => {
      it('keeps accepted messages, their state and spent nonces across a restart', async () => {
        const delivered = message('alpha', 'beta')
        const waiting = message('alpha', 'beta')
        // Signed a few seconds ahead: a restart that moves the epoch to its own second (a harness whose
        // first claim set the epoch without a run id record) must not turn the replay into a stale one.
        const first = acceptInput(delivered, { claim: claim({ timestamp: Math.floor(Date.now() / 1000) + 5 }) })
        await transport.accept(first)
        await send(waiting)
        expect((await read('beta', 1)).map((m) => m.id)).toEqual([delivered.id])

        subject = await h.reopen(subject)
        opened.push(subject)
        transport = subject.transport
        await sleep(PAST_VISIBILITY_MS)
        expect(await read('beta')).toEqual([{ ...delivered, delivery_count: 2 }, { ...waiting, delivery_count: 1 }])
        expect(await transport.ack('beta', [delivered.id, waiting.id])).toBe(2)
        // The same claim (key, nonce, timestamp) replayed by a request that arrives now: its `now` is the accept's
        // start, and a Redis accept run more than 1.5 s after it stores nothing and throws (correctly). first's
        // `now` predates the reopen (new connections, the replay cache's start-up checks) and the sleep, which on
        // a loaded machine, a cluster most of all, took longer than that and failed the row.
        const replay = { ...first, claim: { ...first.claim, now: Date.now() }, message: message('alpha', 'beta') }
        expect(await transport.accept(replay)).toEqual({ outcome: 'replayed' })
      })

      it('answers ping while healthy', async () => {
        await expect(transport.ping()).resolves.toBeUndefined()
        await expect(subject.replayCache.ping()).resolves.toBeUndefined()
      })
    })

    describe('arguments', () => {
      it('rejects malformed arguments before touching storage', async () => {
        await expect(transport.read('beta', { limit: -1, visibilityMs: VISIBILITY_MS, now: Date.now() })).rejects.toBeInstanceOf(RangeError)
        await expect(transport.read('', { limit: 1, visibilityMs: VISIBILITY_MS, now: Date.now() })).rejects.toBeInstanceOf(TypeError)
        await expect(transport.read('beta', { limit: 1, visibilityMs: 0, now: Date.now() })).rejects.toBeInstanceOf(RangeError)
        await expect(send(message('alpha', 'beta'), { claim: claim({ ttlSeconds: 0 }) })).rejects.toBeInstanceOf(RangeError)
        await expect(send(message('alpha', ''))).rejects.toBeInstanceOf(TypeError)
        await expect(transport.ack('beta', [''])).rejects.toBeInstanceOf(TypeError)
        expect(await read('beta')).toEqual([])
      })
    })
  })
}

/** Polls until `condition` holds (or fails the test after `timeoutMs`). */
export async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await sleep(10)
  }
}
