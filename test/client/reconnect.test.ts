import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  MechaClient, MechaError, type ConnectionReady, type DeliveredMessage, type MechaConnection, type ReconnectingEvent,
} from '../../src/client/index.js'
import { admin, testApp } from '../helpers/app.js'
import { closedPort } from '../cli/helpers.js'
import { sdkHarness, type SdkHarness } from './harness.js'

// Every socket is closed one second after its upgrade (`reauthenticate`); the visibility timeout stays
// at its default (30 s), so nothing seen here is a redelivery: what arrives after a reconnect was kept.
let h: SdkHarness
let alpha: MechaClient
beforeAll(async () => {
  h = await sdkHarness({ MECHA_WS_MAX_AGE_SECONDS: '1' })
  alpha = h.client(await h.runtime('alpha', 'token'))
})
afterAll(async () => {
  await h.close()
})

/** A connection's reconnect events, and a way to wait for the n-th reconnect. */
function watch(): { reconnecting: ReconnectingEvent[]; reconnected: ConnectionReady[]; options: { onReconnecting(e: ReconnectingEvent): void; onReconnect(r: ConnectionReady): void }; reconnects(n: number): Promise<void> } {
  const reconnecting: ReconnectingEvent[] = []
  const reconnected: ConnectionReady[] = []
  let waiters: (() => void)[] = []
  return {
    reconnecting,
    reconnected,
    options: {
      onReconnecting: (event) => { reconnecting.push(event) },
      onReconnect: (ready) => {
        reconnected.push(ready)
        const woken = waiters
        waiters = []
        for (const wake of woken) wake()
      },
    },
    async reconnects(n) {
      while (reconnected.length < n) await new Promise<void>((resolve) => waiters.push(resolve))
    },
  }
}

async function pending(mecha: string): Promise<string[]> {
  // As if an hour had passed: every unacknowledged message is due again.
  const { messages } = await h.t.stores.transport.read(mecha, { limit: 100, visibilityMs: 1, now: Date.now() + 3600_000 })
  return messages.map((m) => m.id)
}

describe('connect() across the maximum connection age (MECHA_WS_MAX_AGE_SECONDS=1)', () => {
  it('reconnects with fresh credentials and keeps receiving: every message arrives, every ack is confirmed', { timeout: 60_000 }, async () => {
    for (const mode of ['ed25519', 'token+hmac-sha256'] as const) {
      const mecha = `receiver-${mode.replace(/\W/g, '-')}`
      const receiver = h.client(await h.runtime(mecha, mode))
      const events = watch()
      const connection = receiver.connect(events.options)
      await connection.ready
      const sent: string[] = []
      for (let n = 0; n < 3; n++) sent.push((await alpha.send({ to: mecha, kind: 'n', payload: n })).id)

      const received = new Set<string>()
      const acks: Promise<number>[] = []
      const iterator = connection[Symbol.asyncIterator]()
      const take = async (): Promise<DeliveredMessage> => {
        const next = await iterator.next()
        if (next.done === true) throw new Error('the connection ended')
        received.add(next.value.id)
        acks.push(next.value.ack())
        return next.value
      }
      while (![...sent].every((id) => received.has(id))) await take()
      // Two reconnects: the first connection's close, and the close of one that was opened afresh.
      await events.reconnects(2)
      for (let n = 3; n < 6; n++) sent.push((await alpha.send({ to: mecha, kind: 'n', payload: n })).id)
      while (![...sent].every((id) => received.has(id))) await take()
      await events.reconnects(3)
      sent.push((await alpha.send({ to: mecha, kind: 'n', payload: 6 })).id)
      while (!received.has(sent[6] ?? '')) await take()

      // Each ack resolved with the gateway's answer (0 only when one sent just before a close was
      // applied there and confirmed on the next socket), and the inbox is empty.
      expect((await Promise.all(acks)).every((n) => n === 0 || n === 1)).toBe(true)
      expect(await pending(mecha)).toEqual([])
      expect(events.reconnecting.length).toBeGreaterThanOrEqual(3)
      expect(events.reconnecting[0]?.cause).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'reauthenticate' })
      expect(events.reconnected[0]).toMatchObject({ mecha, key_id: receiver.keyId })
      connection.close()
    }
  })

  it('keeps the messages it received but has not handed out yet', async () => {
    const receiver = h.client(await h.runtime('keeper', 'token'))
    // Sent first: the gateway pushes them on the first socket, as soon as it is ready.
    const sent = [(await alpha.send({ to: 'keeper', kind: 'n', payload: 1 })).id, (await alpha.send({ to: 'keeper', kind: 'n', payload: 2 })).id]
    const events = watch()
    const connection = receiver.connect(events.options)
    await connection.ready
    // Not iterated until the socket they came on is gone; the gateway will not push them again for 30 s.
    await events.reconnects(1)
    const iterator = connection[Symbol.asyncIterator]()
    const first = await iterator.next()
    const second = await iterator.next()
    expect([first.value, second.value]).toMatchObject([{ id: sent[0], delivery_count: 1 }, { id: sent[1], delivery_count: 1 }])
    expect(await connection.ack(sent)).toBe(2)
    connection.close()
  })

  it('an ack made while reconnecting waits for the new socket and resolves with its answer', async () => {
    const receiver = h.client(await h.runtime('waiter', 'hmac-sha256'))
    const id = (await alpha.send({ to: 'waiter', kind: 'n', payload: 'late ack' })).id
    const acks: Promise<number>[] = []
    let connection: MechaConnection | undefined
    const reconnected = new Promise<void>((resolve) => {
      connection = receiver.connect({
        // No socket is open during this callback: the ack must wait for the next one.
        onReconnecting: () => { if (acks.length === 0) acks.push(connection?.ack([id]) ?? Promise.reject(new Error('no connection'))) },
        onReconnect: () => resolve(),
      })
    })
    if (connection === undefined) throw new Error('no connection')
    await connection.ready
    const message = await connection[Symbol.asyncIterator]().next()
    expect(message.value?.id).toBe(id)
    await reconnected
    expect(await acks[0]).toBe(1)
    expect(await pending('waiter')).toEqual([])
    connection.close()
  })

  it('with reconnect: false ends at the first close with reason reauthenticate', async () => {
    const receiver = h.client(await h.runtime('once', 'token'))
    const connection = receiver.connect({ reconnect: false })
    await connection.ready
    await expect(connection[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', reason: 'reauthenticate' })
  })

  it('a close() while waiting to reconnect ends the iteration without error', async () => {
    const receiver = h.client(await h.runtime('closer', 'token'))
    const connection: MechaConnection = receiver.connect({ reconnect: { initialDelayMs: 60_000 }, onReconnecting: () => connection.close() })
    await connection.ready
    await expect(connection[Symbol.asyncIterator]().next()).resolves.toEqual({ value: undefined, done: true })
  })
})

describe('connect() when the gateway restarts (1001 going away)', () => {
  it('reconnects with backoff to the restarted gateway and receives what was sent meanwhile', async () => {
    const port = await closedPort()
    const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-restart-'))
    const masterKey = randomBytes(32)
    const env = { PORT: String(port), LOG_LEVEL: 'warn' }
    let t = await testApp(env, { dataDir, masterKey })
    try {
      const base = await t.app.listen({ port, host: '127.0.0.1' })
      for (const id of ['sender', 'restarted']) await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })
      const issue = async (mecha: string): Promise<string> => (await t.app.inject({ method: 'POST', url: `/v1/mechas/${mecha}/keys`, headers: admin, payload: {} })).json<{ token: string }>().token
      const sender = new MechaClient({ url: base, token: await issue('sender') })
      const receiver = new MechaClient({ url: base, token: await issue('restarted') })
      const events = watch()
      const connection = receiver.connect({ ...events.options, reconnect: { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: Number.POSITIVE_INFINITY } })
      await connection.ready

      await t.close()
      const during = await new Promise<ReconnectingEvent>((resolve) => {
        const check = setInterval(() => {
          const first = events.reconnecting[0]
          if (first !== undefined) {
            clearInterval(check)
            resolve(first)
          }
        }, 20)
      })
      expect(during.cause).toMatchObject({ code: 'UNAVAILABLE', reason: 'connection_closed', detail: expect.stringContaining('1001') })
      t = await testApp(env, { dataDir, masterKey })
      await t.app.listen({ port, host: '127.0.0.1' })
      const accepted = await sender.send({ to: 'restarted', kind: 'n', payload: 'after restart' })
      const next = await connection[Symbol.asyncIterator]().next()
      expect(next.value).toMatchObject({ id: accepted.id, payload: 'after restart' })
      expect(await next.value?.ack()).toBe(1)
      expect(events.reconnected).toHaveLength(1)
      connection.close()
    } finally {
      await t.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('gives up after maxAttempts consecutive failures with the last error', async () => {
    const other = await sdkHarness()
    const receiver = other.client(await other.runtime('gone', 'token'))
    const events = watch()
    const connection = receiver.connect({ ...events.options, reconnect: { maxAttempts: 2, initialDelayMs: 10 } })
    await connection.ready
    const next = connection[Symbol.asyncIterator]().next()
    await other.close()
    const error = await next.then(() => undefined, (err: unknown) => err)
    expect(error).toBeInstanceOf(MechaError)
    expect(error).toMatchObject({ code: 'UNAVAILABLE', reason: 'network_error' })
    expect(events.reconnecting.map((e) => e.attempt)).toEqual([1, 2])
    expect(events.reconnected).toEqual([])
  })
})
