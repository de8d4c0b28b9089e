import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { MechaClient, MechaError, type ConnectionReady } from '../../src/client/index.js'
import { nextMessage, sdkHarness, WhatwgSocket, type AuthMode, type SdkHarness } from './harness.js'

/**
 * connect() authenticating in the first frame (issue 11 item 8), in Node with the `ws` package: what
 * a browser does, where the upgrade cannot carry headers. Chromium itself: connect.browser.test.ts.
 */
let h: SdkHarness
let alpha: MechaClient
beforeAll(async () => {
  h = await sdkHarness()
  alpha = h.client(await h.runtime('alpha', 'token'))
})
afterAll(async () => {
  await h.close()
})

/** A WebSocket as browsers have it: `new WebSocket(url, protocols)`, and nothing to send headers with. */
class BrowserLikeWebSocket extends WhatwgSocket {
  static readonly offered: (string | string[] | undefined)[] = []
  constructor(url: string, protocols?: string | string[]) {
    if (protocols !== undefined && typeof protocols !== 'string' && !Array.isArray(protocols)) throw new SyntaxError('protocols must be a string or an array of strings')
    BrowserLikeWebSocket.offered.push(protocols)
    super(url, protocols)
  }
}

describe('connect() with webSocketAuth: "frame"', () => {
  it.each(['token', 'hmac-sha256', 'ed25519'] as AuthMode[])('%s: receives what another runtime sent over HTTP, and acks over the socket', async (mode) => {
    const mecha = `frame-${mode.replace(/\W/g, '-')}`
    const receiver = h.client(await h.runtime(mecha, mode), { webSocketAuth: 'frame' })
    const connection = receiver.connect()
    expect(await connection.ready).toMatchObject({ mecha, key_id: receiver.keyId })
    const accepted = await alpha.send({ to: mecha, kind: 'task', payload: mode })
    const message = await nextMessage(connection)
    expect(message).toMatchObject({ id: accepted.id, from: 'alpha', payload: mode })
    expect(await message.ack()).toBe(1)
    connection.close()
  })

  it('works with a WebSocket that takes only protocols, as a browser\'s does', async () => {
    const before = BrowserLikeWebSocket.offered.length
    const receiver = h.client(await h.runtime('frame-browser-like', 'ed25519'), { WebSocket: BrowserLikeWebSocket, webSocketAuth: 'frame' })
    const connection = receiver.connect()
    expect((await connection.ready).mecha).toBe('frame-browser-like')
    expect(BrowserLikeWebSocket.offered.slice(before)).toEqual([['mecha.frame-auth']])
    connection.close()
  })

  it('without options, where the global WebSocket cannot send headers (here: Deno\'s, by its globals), chooses the first frame by itself', async () => {
    const before = BrowserLikeWebSocket.offered.length
    vi.stubGlobal('WebSocket', BrowserLikeWebSocket)
    vi.stubGlobal('Deno', {})
    try {
      const receiver = h.client(await h.runtime('frame-by-itself', 'hmac-sha256'))
      const connection = receiver.connect()
      expect((await connection.ready).mecha).toBe('frame-by-itself')
      expect(BrowserLikeWebSocket.offered.slice(before)).toEqual([['mecha.frame-auth']])
      connection.close()
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('a refusal is thrown as the MechaError the same refusal gets over HTTP, with its status and request id', async () => {
    const credentials = await h.runtime('frame-refused', 'hmac-sha256')
    const wrong = h.client({ ...credentials, signingSecret: `${credentials.signingSecret ?? ''}x` }, { webSocketAuth: 'frame' })
    const connection = wrong.connect()
    const error = await connection[Symbol.asyncIterator]().next().then(() => undefined, (err: unknown) => err)
    expect(error).toBeInstanceOf(MechaError)
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', reason: 'bad_signature', requestId: expect.stringMatching(/^req_/) })
    // A refused browser socket has no HTTP response to read: the error frame says as much as one would.
    expect((error as MechaError).problem).toMatchObject({ type: 'urn:mecharim:problem:bad_signature', status: 401, reason: 'bad_signature' })
  })

  it('a skewed clock is corrected from the stale_timestamp error frame and the handshake retried once', async () => {
    const skewed = h.client(await h.runtime('frame-skewed', 'ed25519'), { webSocketAuth: 'frame', now: () => Date.now() - 3600_000 })
    const connection = skewed.connect()
    expect((await connection.ready).mecha).toBe('frame-skewed')
    expect(Math.abs(skewed.clockOffsetMs - 3600_000)).toBeLessThan(2000)
    connection.close()
  })

  it('devSender cannot authenticate a frame: refused when the client is made', () => {
    expect(() => new MechaClient({ url: h.base, devSender: 'alpha', webSocketAuth: 'frame' })).toThrow(/expected options.devSender without webSocketAuth "frame"/)
  })

  it('checks the option when the client is made', () => {
    expect(() => new MechaClient({ url: h.base, token: `mecha_mk${'a'.repeat(24)}_${'a'.repeat(52)}_aaaaaaa`, webSocketAuth: 'cookie' as 'frame' })).toThrow(/expected options.webSocketAuth as "headers" or "frame"/)
  })
})

describe('connect() with webSocketAuth: "frame" across the maximum connection age', () => {
  let aged: SdkHarness
  beforeAll(async () => { aged = await sdkHarness({ MECHA_WS_MAX_AGE_SECONDS: '1' }) })
  afterAll(async () => { await aged.close() })

  it('reconnects with a fresh frame handshake and keeps receiving', { timeout: 30_000 }, async () => {
    const sender = aged.client(await aged.runtime('frame-sender', 'token'))
    const receiver = aged.client(await aged.runtime('frame-aged', 'hmac-sha256'), { webSocketAuth: 'frame' })
    const reconnected: ConnectionReady[] = []
    const connection = receiver.connect({ onReconnect: (ready) => reconnected.push(ready) })
    await connection.ready
    await expect.poll(() => reconnected.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1)
    const accepted = await sender.send({ to: 'frame-aged', kind: 'n', payload: 'after a reconnect' })
    let message = await nextMessage(connection)
    while (message.id !== accepted.id) message = await nextMessage(connection)
    expect(await message.ack()).toBe(1)
    connection.close()
  })
})
