import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MechaClient } from '../../src/client/index.js'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'

/** The SDK's development sender (`new MechaClient({url, devSender})`), against a real gateway started with the flag. */
describe('MechaClient with devSender', () => {
  let h: GatewayHarness
  beforeAll(async () => {
    h = await gatewayHarness({ MECHA_ALLOW_DEV_SENDER_HEADER: '1' })
    for (const id of ['alice', 'bob']) await h.register(id)
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

  it('refuses devSender together with a key\'s credentials, at construction', () => {
    expect(() => new MechaClient({ url: 'http://127.0.0.1:1', devSender: 'alice', token: `mecha_mk${'a'.repeat(24)}_${'a'.repeat(52)}_${'a'.repeat(7)}` })).toThrow(/devSender alone/)
  })
})
