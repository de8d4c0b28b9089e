import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeadLetter, DeliveredMessage, Message, MechaClient, MechaCredentials } from '../../src/client/index.js'
import { admin } from '../helpers/app.js'
import { sdkHarness, type SdkHarness } from './harness.js'

/**
 * The SDK's side of the message lifecycle (issue 14) against a real gateway: nack, extend, reject,
 * dead letters, redrive, purge, and the send fields ttl_seconds, deliver_after and receipts. The
 * recipients get a small delivery policy (PATCH /v1/mechas/{id}) so a message runs its life in a
 * few seconds; the tests poll for outcomes and assert no timings.
 */

let h: SdkHarness
let n = 0
/** A bound for polling loops, never an expectation about how long something takes. */
const POLL_BOUND_MS = 15_000

beforeAll(async () => {
  h = await sdkHarness()
})
afterAll(async () => {
  await h.close()
})

interface Pair {
  sender: MechaClient
  receiver: MechaClient
  senderId: string
  receiverId: string
  receiverCredentials: MechaCredentials
}

/** A fresh sender and recipient, the recipient with `delivery` as its policy. */
async function pair(delivery: Record<string, unknown> = { max_deliveries: 2, backoff_seconds: [0], visibility_seconds: 1 }): Promise<Pair> {
  n += 1
  const senderId = `lc-send-${n}`
  const receiverId = `lc-recv-${n}`
  const sender = h.client(await h.runtime(senderId, 'token'))
  const receiverCredentials = await h.runtime(receiverId, 'token')
  const res = await h.t.app.inject({ method: 'PATCH', url: `/v1/mechas/${receiverId}`, headers: admin, payload: { delivery } })
  expect(res.statusCode, res.body).toBe(200)
  return { sender, receiver: h.client(receiverCredentials), senderId, receiverId, receiverCredentials }
}

/** Poll `read` until `done` holds for what it returned (bounded, not timed). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const bound = Date.now() + POLL_BOUND_MS
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > bound) throw new Error(`gave up polling: last value ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function deadLetter(client: MechaClient, id: string): Promise<DeadLetter> {
  const page = await until(() => client.deadLetters(), (p) => p.dead_letters.some((d) => d.message.id === id))
  const found = page.dead_letters.find((d) => d.message.id === id)
  if (found === undefined) throw new Error('unreachable')
  return found
}

async function receipt(client: MechaClient, failedId: string): Promise<Message> {
  const seen: Message[] = []
  await until(async () => {
    seen.push(...await client.inbox({ wait: 1 }))
    return seen
  }, (all) => all.some((m) => m.kind === 'mecha.delivery.failed' && m.reply_to === failedId))
  const found = seen.find((m) => m.kind === 'mecha.delivery.failed' && m.reply_to === failedId)
  if (found === undefined) throw new Error('unreachable')
  return found
}

describe('max_deliveries', () => {
  it('a message never acknowledged reaches the dead letters after max_deliveries deliveries, and its sender gets a receipt', async () => {
    const { sender, receiver, receiverId } = await pair()
    const accepted = await sender.send({ to: receiverId, kind: 'task.poison', payload: { n: 1 } })
    const counts: number[] = []
    // Read (never ack) until the gateway gives up on the message.
    await until(async () => {
      for (const message of await receiver.inbox({ wait: 1 })) if (message.id === accepted.id) counts.push(message.delivery_count)
      return (await receiver.deadLetters()).dead_letters
    }, (dead) => dead.some((d) => d.message.id === accepted.id))
    expect(counts).toEqual([1, 2])
    const dead = await deadLetter(receiver, accepted.id)
    expect(dead).toMatchObject({ reason: 'max_deliveries', deliveries: 2, message: { id: accepted.id, kind: 'task.poison', payload: { n: 1 } } })
    expect(typeof dead.dead_lettered_at).toBe('string')
    const failed = await receipt(sender, accepted.id)
    expect(failed).toMatchObject({ from: receiverId, payload: { message_id: accepted.id, to: receiverId, reason: 'max_deliveries', deliveries: 2 } })
  })
})

describe('reject, redrive and purge over HTTP', () => {
  it('reject dead-letters at once with reason rejected, and the sender gets mecha.delivery.failed', async () => {
    const { sender, receiver, receiverId } = await pair()
    const accepted = await sender.send({ to: receiverId, kind: 'task.bad', payload: {} })
    const [message] = await receiver.inbox({ wait: 2 })
    expect(message?.id).toBe(accepted.id)
    expect(await receiver.reject([accepted.id], { reason: 'cannot parse' })).toEqual({ rejected: 1 })
    expect(await receiver.reject([accepted.id])).toEqual({ rejected: 0 })
    const dead = await deadLetter(receiver, accepted.id)
    expect(dead).toMatchObject({ reason: 'rejected', deliveries: 1, detail: 'cannot parse' })
    const failed = await receipt(sender, accepted.id)
    expect(failed.payload).toMatchObject({ message_id: accepted.id, to: receiverId, reason: 'rejected', deliveries: 1 })
  })

  it('redrive delivers a dead letter again (same id, fresh count); purge removes one', async () => {
    const { sender, receiver, receiverId } = await pair()
    const accepted = await sender.send({ to: receiverId, kind: 'task.retry', payload: { again: true } })
    await until(() => receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === accepted.id))
    await receiver.reject([accepted.id])
    await deadLetter(receiver, accepted.id)
    expect(await receiver.redrive([accepted.id])).toEqual({ redriven: 1 })
    expect((await receiver.deadLetters()).dead_letters.map((d) => d.message.id)).not.toContain(accepted.id)
    const again = await until(() => receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === accepted.id))
    expect(again.find((x) => x.id === accepted.id)).toMatchObject({ delivery_count: 1, payload: { again: true } })

    await receiver.reject([accepted.id])
    await deadLetter(receiver, accepted.id)
    expect(await receiver.purgeDeadLetters([accepted.id])).toEqual({ purged: 1 })
    expect(await receiver.purgeDeadLetters([accepted.id])).toEqual({ purged: 0 })
    expect((await receiver.deadLetters()).dead_letters).toEqual([])
  })

  it('deadLetters pages with limit and after', async () => {
    const { sender, receiver, receiverId } = await pair()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await sender.send({ to: receiverId, kind: 'task.page', payload: { i } })).id)
    const got = await until(async () => receiver.inbox({ wait: 1, limit: 10 }), (m) => m.length === 3)
    expect(await receiver.reject(got.map((m) => m.id))).toEqual({ rejected: 3 })
    const first = await receiver.deadLetters({ limit: 2 })
    expect(first.dead_letters).toHaveLength(2)
    expect(first.next).not.toBeNull()
    const second = await receiver.deadLetters({ limit: 2, after: first.next ?? '' })
    expect(second.dead_letters).toHaveLength(1)
    expect(second.next).toBeNull()
    expect([...first.dead_letters, ...second.dead_letters].map((d) => d.message.id).sort()).toEqual([...ids].sort())
  })

  it('receipts: false: the sender gets no receipt for that message', async () => {
    const { sender, receiver, receiverId } = await pair()
    const quiet = await sender.send({ to: receiverId, kind: 'task.quiet', payload: {}, receipts: false })
    const loud = await sender.send({ to: receiverId, kind: 'task.loud', payload: {} })
    const got = await until(() => receiver.inbox({ wait: 1, limit: 10 }), (m) => m.length === 2)
    expect(got.find((m) => m.id === quiet.id)).toMatchObject({ receipts: false })
    expect(await receiver.reject([quiet.id])).toEqual({ rejected: 1 })
    expect(await receiver.reject([loud.id])).toEqual({ rejected: 1 })
    await receipt(sender, loud.id)
    const rest = await sender.inbox({ wait: 0, limit: 100 })
    expect(rest.filter((m) => m.reply_to === quiet.id)).toEqual([])
  })
})

describe('nack and extend over HTTP', () => {
  it('nack with delay 0 delivers the message again', async () => {
    const { sender, receiver, receiverId } = await pair({ max_deliveries: 5, visibility_seconds: 600 })
    const accepted = await sender.send({ to: receiverId, kind: 'task.later', payload: {} })
    await until(() => receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === accepted.id))
    expect(await receiver.nack([accepted.id], { delaySeconds: 0 })).toEqual({ nacked: 1 })
    const again = await until(() => receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === accepted.id))
    expect(again.find((x) => x.id === accepted.id)?.delivery_count).toBe(2)
    expect(await receiver.ack([accepted.id])).toEqual({ acknowledged: 1 })
  })

  it('nack without a delay is accepted (the recipient\'s backoff)', async () => {
    const { sender, receiver, receiverId } = await pair({ max_deliveries: 5, visibility_seconds: 600, backoff_seconds: [600] })
    const accepted = await sender.send({ to: receiverId, kind: 'task.later', payload: {} })
    await until(() => receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === accepted.id))
    expect(await receiver.nack([accepted.id])).toEqual({ nacked: 1 })
    expect(await receiver.inbox({ wait: 0 })).toEqual([])
  })

  it('extend keeps a delivered message invisible past its visibility timeout', async () => {
    const { sender, receiver, receiverId } = await pair({ max_deliveries: 5, visibility_seconds: 1 })
    const accepted = await sender.send({ to: receiverId, kind: 'task.slow', payload: {} })
    await until(() => receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === accepted.id))
    expect(await receiver.extend([accepted.id], 600)).toEqual({ extended: 1 })
    // The next read waits longer than the 1 s visibility: without the extension it would come back.
    expect(await receiver.inbox({ wait: 2 })).toEqual([])
    expect(await receiver.ack([accepted.id])).toEqual({ acknowledged: 1 })
  })

  it('only the caller\'s own delivered messages move', async () => {
    const { sender, receiver, receiverId } = await pair({ max_deliveries: 5, visibility_seconds: 600 })
    const accepted = await sender.send({ to: receiverId, kind: 'task.mine', payload: {} })
    // Not yet delivered: nothing moves.
    expect(await receiver.nack([accepted.id], { delaySeconds: 0 })).toEqual({ nacked: 0 })
    await until(() => receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === accepted.id))
    // Another mecha (the sender) cannot touch it.
    expect(await sender.reject([accepted.id])).toEqual({ rejected: 0 })
    expect(await sender.extend([accepted.id], 10)).toEqual({ extended: 0 })
    expect(await receiver.ack([accepted.id])).toEqual({ acknowledged: 1 })
  })

  it('per-call auth: a client with other credentials acts for the given key', async () => {
    const { sender, receiverId, receiverCredentials } = await pair({ max_deliveries: 5, visibility_seconds: 600 })
    const accepted = await sender.send({ to: receiverId, kind: 'task.auth', payload: {} })
    const auth = { token: receiverCredentials.token ?? '' }
    await until(() => sender.inbox({ wait: 1 }, { auth }), (m) => m.some((x) => x.id === accepted.id))
    expect(await sender.reject([accepted.id], { reason: 'no' }, { auth })).toEqual({ rejected: 1 })
    expect((await sender.deadLetters({}, { auth })).dead_letters.map((d) => d.message.id)).toContain(accepted.id)
    expect(await sender.redrive([accepted.id], { auth })).toEqual({ redriven: 1 })
    await until(() => sender.inbox({ wait: 1 }, { auth }), (m) => m.some((x) => x.id === accepted.id))
    expect(await sender.nack([accepted.id], { delaySeconds: 0 }, { auth })).toEqual({ nacked: 1 })
    await until(() => sender.inbox({ wait: 1 }, { auth }), (m) => m.some((x) => x.id === accepted.id))
    expect(await sender.extend([accepted.id], 60, { auth })).toEqual({ extended: 1 })
    await sender.reject([accepted.id], {}, { auth })
    expect(await sender.purgeDeadLetters([accepted.id], { auth })).toEqual({ purged: 1 })
  })

  it('checks its arguments before any request', async () => {
    const { receiver } = await pair()
    await expect(receiver.nack([])).rejects.toThrow(TypeError)
    await expect(receiver.nack(['msg_1'], { delaySeconds: -1 })).rejects.toThrow(/delaySeconds/)
    await expect(receiver.nack(['msg_1'], { delay: 1 } as never)).rejects.toThrow(/unknown "delay"/)
    await expect(receiver.extend(['msg_1'], 0)).rejects.toThrow(/seconds/)
    await expect(receiver.extend(['msg_1'], 1.5)).rejects.toThrow(/seconds/)
    await expect(receiver.reject(['msg_1'], { reason: 5 } as never)).rejects.toThrow(/reason/)
    await expect(receiver.redrive(['a', 'a'])).rejects.toThrow(/distinct/)
    await expect(receiver.deadLetters({ limit: 0 })).rejects.toThrow(/limit/)
    await expect(receiver.send({ to: 'x', kind: 'k', payload: 1, ttlSeconds: 0 })).rejects.toThrow(/ttlSeconds/)
    await expect(receiver.send({ to: 'x', kind: 'k', payload: 1, deliverAfter: 1.5 })).rejects.toThrow(/deliverAfter/)
    await expect(receiver.send({ to: 'x', kind: 'k', payload: 1, deliverAfter: new Date(Number.NaN) })).rejects.toThrow(/deliverAfter/)
    await expect(receiver.send({ to: 'x', kind: 'k', payload: 1, receipts: 'no' as never })).rejects.toThrow(/receipts/)
  })
})

describe('send fields', () => {
  it('ttlSeconds: a message is never delivered after its ttl; it is dead-lettered expired', async () => {
    // A redelivery would fall due 4 s after the first delivery, past its 2 s ttl.
    const { sender, receiver, receiverId } = await pair({ max_deliveries: 5, visibility_seconds: 4 })
    const accepted = await sender.send({ to: receiverId, kind: 'task.brief', payload: {}, ttlSeconds: 2 })
    // The first read delivers it (unless it came after the ttl); no later read hands it out again.
    const handedOut: string[] = []
    await until(async () => {
      for (const message of await receiver.inbox({ wait: 1 })) handedOut.push(message.id)
      return (await receiver.deadLetters()).dead_letters
    }, (dead) => dead.some((d) => d.message.id === accepted.id))
    const deliveries = handedOut.filter((id) => id === accepted.id).length
    expect(deliveries).toBeLessThanOrEqual(1)
    const dead = await deadLetter(receiver, accepted.id)
    expect(dead).toMatchObject({ reason: 'expired', deliveries, message: { ttl_seconds: 2 } })
  })

  it('deliverAfter (a Date or unix seconds): not delivered in the read right after the send, then delivered with the field', async () => {
    const { sender, receiver, receiverId } = await pair({ max_deliveries: 5, visibility_seconds: 600 })
    const at = new Date(Date.now() + 3_000)
    const accepted = await sender.send({ to: receiverId, kind: 'task.deferred', payload: {}, deliverAfter: at })
    expect(await receiver.inbox({ wait: 0 })).toEqual([])
    const got = await until(() => receiver.inbox({ wait: 1 }), (m) => m.some((x) => x.id === accepted.id))
    const deliverAfter = Math.ceil(at.getTime() / 1000)
    expect(got.find((x) => x.id === accepted.id)).toMatchObject({ deliver_after: deliverAfter })
    await receiver.ack([accepted.id])

    const seconds = Math.floor(Date.now() / 1000) + 3600
    const later = await sender.send({ to: receiverId, kind: 'task.deferred', payload: {}, deliverAfter: seconds, ttlSeconds: 7200, receipts: false })
    expect(later.id).toMatch(/^msg_/)
    expect(await receiver.inbox({ wait: 0 })).toEqual([])
  })
})

describe('over the WebSocket', () => {
  async function next(iterator: AsyncIterator<DeliveredMessage>): Promise<DeliveredMessage> {
    const result = await iterator.next()
    if (result.done === true) throw new Error('the connection ended')
    return result.value
  }

  it('nack with delay 0 redelivers on the socket; extend and reject answer with their counts', async () => {
    const { sender, receiver, receiverId } = await pair({ max_deliveries: 5, visibility_seconds: 600 })
    const connection = receiver.connect()
    try {
      await connection.ready
      const iterator = connection[Symbol.asyncIterator]()
      const accepted = await sender.send({ to: receiverId, kind: 'task.ws', payload: {} })
      const first = await next(iterator)
      expect(first).toMatchObject({ id: accepted.id, delivery_count: 1 })
      expect(Object.keys(first)).not.toContain('nack')
      expect(await first.nack({ delaySeconds: 0 })).toBe(1)
      const second = await next(iterator)
      expect(second).toMatchObject({ id: accepted.id, delivery_count: 2 })
      expect(await connection.extend([accepted.id], 600)).toBe(1)
      expect(await second.extend(600)).toBe(1)
      expect(await second.reject({ reason: 'over the socket' })).toBe(1)
      expect(await connection.reject([accepted.id])).toBe(0)
      expect(await connection.nack([accepted.id])).toBe(0)
      expect(await deadLetter(receiver, accepted.id)).toMatchObject({ reason: 'rejected', detail: 'over the socket' })
    } finally {
      connection.close()
    }
  })

  it('a refused frame rejects with the gateway\'s reason; arguments are checked first', async () => {
    const { receiver } = await pair()
    const connection = receiver.connect()
    try {
      await connection.ready
      await expect(connection.nack([])).rejects.toThrow(TypeError)
      await expect(connection.extend(['msg_1'], 0)).rejects.toThrow(/seconds/)
      await expect(connection.reject(['msg_1'], { reason: 'x'.repeat(257) })).rejects.toThrow()
    } finally {
      connection.close()
    }
  })
})
