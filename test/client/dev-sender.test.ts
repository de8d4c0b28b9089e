import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MechaClient } from '../../src/client/index.js'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'

/** The SDK's development sender (`new MechaClient({url, devSender})`), against a real gateway started with the flag. */
describe('MechaClient with devSender', () => {
  let h: GatewayHarness
  beforeAll(async () => {
    h = await gatewayHarness({ MECHA_ALLOW_DEV_SENDER_HEADER: '1' })
    for (const id of ['alice', 'bob', 'carol']) await h.register(id)
  })
  afterAll(async () => { await h.close() })

  it('sends, receives and acknowledges over HTTP as the named mecha, and over the WebSocket', async () => {
    const alice = new MechaClient({ url: h.base, devSender: 'alice' })
    const bob = new MechaClient({ url: h.base, devSender: 'bob' })
    expect((await alice.whoami()).mecha).toBe('alice')
    const sent = await alice.send({ to: 'bob', kind: 'note', payload: { n: 1 } })
    const connection = bob.connect()
    for await (const message of connection) {
      expect(message).toMatchObject({ id: sent.id, from: 'alice', payload: { n: 1 } })
      expect(await message.ack()).toBe(1)
      break
    }
  })

  it('a session of three development senders through one session object: each call\'s devSender method > session > client', async () => {
    expect((await h.t.app.inject({ method: 'PUT', url: '/v1/modes/poll.v1', headers: admin, payload: { kinds: ['vote'], version: 1 } })).statusCode).toBe(201)
    const client = new MechaClient({ url: h.base, devSender: 'carol' })
    const session = await client.startSession({ mode: 'poll.v1', participants: ['bob', 'carol'], ttlSeconds: 60 }, { auth: { devSender: 'alice' } })
    expect(session.view?.initiator).toBe('alice')
    expect(await session.send({ to: 'bob', kind: 'vote', payload: 1 })).toMatchObject({ from: 'alice' })
    expect(await session.send({ to: 'alice', kind: 'vote', payload: 2 }, { auth: { devSender: 'bob' } })).toMatchObject({ from: 'bob' })
    expect(await client.session(session.id).send({ to: 'alice', kind: 'vote', payload: 3 })).toMatchObject({ from: 'carol' })
    expect((await session.commit({ outcome: 'done' })).state).toBe('committed')
  })

  it('refuses devSender together with a key\'s credentials, at construction', () => {
    expect(() => new MechaClient({ url: 'http://127.0.0.1:1', devSender: 'alice', token: `mecha_mk${'a'.repeat(24)}_${'a'.repeat(52)}_${'a'.repeat(7)}` })).toThrow(/devSender alone/)
  })
})
