import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectionRevokedError, MechaError, type MechaClient } from '../../src/client/index.js'
import { admin } from '../helpers/app.js'
import { nextMessage, sdkHarness, WhatwgSocket, type SdkHarness } from './harness.js'

// A 1 s visibility timeout: an unacknowledged message comes back quickly.
let h: SdkHarness
let alpha: MechaClient
beforeAll(async () => {
  h = await sdkHarness({ MECHA_VISIBILITY_TIMEOUT_SECONDS: '1' })
  alpha = h.client(await h.runtime('alpha', 'token'))
})
afterAll(async () => {
  await h.close()
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('connect()', () => {
  it('receives over the WebSocket what another runtime sent over HTTP; an ack over the socket stops redelivery', async () => {
    const beta = h.client(await h.runtime('beta', 'ed25519'))
    const connection = beta.connect()
    expect(await connection.ready).toMatchObject({ mecha: 'beta', key_id: beta.keyId })

    const accepted = await alpha.send({ to: 'beta', kind: 'task.create', payload: { job: 42 } })
    const message = await nextMessage(connection)
    expect(message).toMatchObject({ id: accepted.id, from: 'alpha', to: 'beta', kind: 'task.create', payload: { job: 42 }, delivery_count: 1 })
    expect(Object.keys(JSON.parse(JSON.stringify(message)) as object)).not.toContain('ack')

    expect(await message.ack()).toBe(1)
    connection.close()
    await sleep(2500)
    expect(await beta.inbox({ wait: 0 })).toEqual([])
  })

  it('an unacknowledged message is delivered again after the visibility timeout', async () => {
    const gamma = h.client(await h.runtime('gamma', 'token+hmac-sha256'))
    const connection = gamma.connect()
    await connection.ready
    const accepted = await alpha.send({ to: 'gamma', kind: 'note', payload: 'unacked' })
    expect((await nextMessage(connection)).id).toBe(accepted.id)
    connection.close()

    const started = Date.now()
    const again = await gamma.inbox({ wait: 5 })
    expect(again).toMatchObject([{ id: accepted.id, delivery_count: 2 }])
    expect(Date.now() - started).toBeLessThan(4000)
    expect(await gamma.ack([accepted.id])).toEqual({ acknowledged: 1 })
  })

  it('for-await iterates messages until the signal aborts', async () => {
    const delta = h.client(await h.runtime('delta', 'hmac-sha256'), { WebSocket })
    const controller = new AbortController()
    const connection = delta.connect({ signal: controller.signal })
    await connection.ready
    const sent = [await alpha.send({ to: 'delta', kind: 'n', payload: 1 }), await alpha.send({ to: 'delta', kind: 'n', payload: 2 })]
    const received: string[] = []
    for await (const message of connection) {
      received.push(message.id)
      await message.ack()
      if (received.length === 2) controller.abort()
    }
    expect(received).toEqual(sent.map((m) => m.id))
  })

  it('acknowledges several ids at once with connection.ack', async () => {
    const epsilon = h.client(await h.runtime('epsilon', 'token'))
    const connection = epsilon.connect()
    await connection.ready
    const ids = [(await alpha.send({ to: 'epsilon', kind: 'n', payload: 1 })).id, (await alpha.send({ to: 'epsilon', kind: 'n', payload: 2 })).id]
    const iterator = connection[Symbol.asyncIterator]()
    await iterator.next()
    await iterator.next()
    expect(await connection.ack(ids)).toBe(2)
    await iterator.return?.()
    await expect(connection.ack(ids)).rejects.toMatchObject({ reason: 'connection_closed' })
  })

  it('a refused upgrade is thrown by the iterator as a MechaError with the problem', async () => {
    const credentials = await h.runtime('zeta', 'hmac-sha256')
    const wrong = h.client({ ...credentials, signingSecret: `${credentials.signingSecret ?? ''}x` })
    const connection = wrong.connect()
    const error = await connection[Symbol.asyncIterator]().next().then(() => undefined, (err: unknown) => err)
    expect(error).toBeInstanceOf(MechaError)
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', reason: 'bad_signature', requestId: expect.stringMatching(/^req_/) })
    await expect(connection.ready).rejects.toBe(error)
  })

  it('a revoked key is refused as invalid_key', async () => {
    const credentials = await h.runtime('eta', 'token')
    const res = await h.t.app.inject({ method: 'POST', url: `/v1/keys/${credentials.keyId}/revoke`, headers: admin })
    expect(res.statusCode).toBe(200)
    await expect(h.client(credentials).connect().ready).rejects.toMatchObject({ status: 401, reason: 'invalid_key' })
  })

  it('a skewed clock is corrected from the refusal and the upgrade retried once', async () => {
    const theta = h.client(await h.runtime('theta', 'ed25519'), { now: () => Date.now() - 3600_000 })
    const connection = theta.connect()
    expect((await connection.ready).mecha).toBe('theta')
    expect(Math.abs(theta.clockOffsetMs - 3600_000)).toBeLessThan(2000)
    connection.close()
  })

  it('works with a WHATWG-style WebSocket; a refusal then has no details (status 0)', async () => {
    const credentials = await h.runtime('kappa', 'ed25519')
    const connection = h.client(credentials, { WebSocket: WhatwgSocket }).connect()
    expect((await connection.ready).mecha).toBe('kappa')
    const accepted = await alpha.send({ to: 'kappa', kind: 'n', payload: 'w' })
    const message = await nextMessage(connection)
    expect(message.id).toBe(accepted.id)
    expect(await message.ack()).toBe(1)
    connection.close()

    const refused = h.client({ ...credentials, privateKey: new Uint8Array(32) }, { WebSocket: WhatwgSocket }).connect()
    await expect(refused.ready).rejects.toMatchObject({ status: 0, code: 'UNAVAILABLE', reason: 'network_error' })
  })

  it('an open connection whose key is revoked ends with ConnectionRevokedError invalid_key, and does not reconnect', async () => {
    const credentials = await h.runtime('lambda', 'token')
    const reconnecting: unknown[] = []
    const connection = h.client(credentials).connect({ onReconnecting: (event) => reconnecting.push(event) })
    await connection.ready
    const next = connection[Symbol.asyncIterator]().next()
    const res = await h.t.app.inject({ method: 'POST', url: `/v1/keys/${credentials.keyId}/revoke`, headers: admin })
    expect(res.statusCode).toBe(200)
    const error = await next.then(() => undefined, (err: unknown) => err)
    expect(error).toBeInstanceOf(ConnectionRevokedError)
    expect(error).toBeInstanceOf(MechaError)
    expect(error).toMatchObject({ status: 0, code: 'UNAUTHENTICATED', reason: 'invalid_key', closeCode: 1008 })
    expect(reconnecting).toEqual([])
    await expect(connection.ack([`msg_${'0'.repeat(26)}`])).rejects.toMatchObject({ reason: 'connection_closed' })
  })

  it('when the gateway goes away, with reconnect: false, the iterator throws connection_closed', async () => {
    const other = await sdkHarness()
    const iota = other.client(await other.runtime('iota', 'token'))
    const connection = iota.connect({ reconnect: false })
    await connection.ready
    const next = connection[Symbol.asyncIterator]().next()
    await other.close()
    await expect(next).rejects.toMatchObject({ code: 'UNAVAILABLE', reason: 'connection_closed' })
  })
})
