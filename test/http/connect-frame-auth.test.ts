import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { formatToken } from '../../src/crypto/token.js'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { FRAME_AUTH_PROTOCOL, authenticateFrame, freshNonce, runtimeHeaders, type AuthenticateFrameOptions } from '../helpers/runtime.js'

/**
 * Issue 11 item 8: a browser cannot send headers on a WebSocket upgrade, so GET /v1/connect also
 * authenticates in the socket's first frame, over a challenge the server issued for that socket. The
 * frame runs the same pipeline steps as the header path; a refusal is an `error` frame with the
 * catalogue reason, then 1008. One describe per outcome.
 */
type Frame = { type: string; [k: string]: unknown }

interface FrameSocket {
  socket: WebSocket
  /** Every frame received, in order. */
  frames: Frame[]
  /** The next frame not yet taken. */
  next(): Promise<Frame>
  closed: Promise<{ code: number; reason: string }>
  /** The challenge frame the server opened with. */
  challenge: Frame
}

let h: GatewayHarness
let sender: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('alpha')
  await h.register('beta')
  sender = await h.issue('alpha')
})
afterAll(async () => { await h.close() })

function wsUrl(harness: GatewayHarness): string {
  return `${harness.base.replace('http', 'ws')}/v1/connect`
}

function frameQueue(socket: WebSocket): Pick<FrameSocket, 'frames' | 'next' | 'closed'> {
  const frames: Frame[] = []
  let taken = 0
  let wake: (() => void) | undefined
  socket.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as Frame)
    wake?.()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => {
    resolve({ code, reason: reason.toString() })
    wake?.()
  }))
  let isClosed = false
  void closed.then(() => { isClosed = true })
  const next = async (): Promise<Frame> => {
    while (frames.length <= taken) {
      if (isClosed) throw new Error(`the socket closed; frames: ${JSON.stringify(frames)}`)
      await new Promise<void>((resolve) => { wake = resolve })
    }
    return frames[taken++] as Frame
  }
  return { frames, next, closed }
}

/** Open GET /v1/connect offering the frame-auth subprotocol, no credentials; resolves on the challenge. */
async function openFrameSocket(harness: GatewayHarness = h): Promise<FrameSocket> {
  const socket = new WebSocket(wsUrl(harness), FRAME_AUTH_PROTOCOL)
  const queue = frameQueue(socket)
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    socket.once('error', reject)
  })
  expect(socket.protocol).toBe(FRAME_AUTH_PROTOCOL)
  const challenge = await queue.next()
  return { socket, ...queue, challenge }
}

function frameFor(ws: FrameSocket, credentials: IssuedRuntime, options: Partial<AuthenticateFrameOptions> = {}, harness: GatewayHarness = h): Record<string, unknown> {
  return authenticateFrame({ credentials, authority: harness.t.config.publicAuthority, challenge: String(ws.challenge.challenge), ...options })
}

/** The refusal: an error frame with the catalogue reason (nothing else before it), then 1008 with that reason. */
async function expectRefused(ws: FrameSocket, reason: string, status = 401): Promise<Frame> {
  const error = await ws.next()
  expect(error).toMatchObject({ type: 'error', reason, status, detail: expect.any(String), request_id: expect.stringMatching(/^req_/) })
  expect(await ws.closed).toEqual({ code: 1008, reason })
  expect(ws.frames.map((f) => f.type)).toEqual(['challenge', 'error'])
  return error
}

describe('GET /v1/connect with first-frame authentication: accepted', () => {
  it('opens with a challenge: 32 random bytes as base64url, a new one per socket, and how long it stays open', async () => {
    const [a, b] = await Promise.all([openFrameSocket(), openFrameSocket()])
    for (const ws of [a, b]) {
      expect(ws.challenge).toEqual({ type: 'challenge', challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expires_in: 10 })
      ws.socket.close()
    }
    expect(a.challenge.challenge).not.toBe(b.challenge.challenge)
  })

  const modes: [string, 'token' | 'hmac-sha256' | 'ed25519' | 'token+ed25519', { signature?: { required?: boolean; algorithms: string[] } }][] = [
    ['a bearer key', 'token', {}],
    ['an HMAC key', 'hmac-sha256', { signature: { algorithms: ['hmac-sha256'] } }],
    ['an Ed25519 key', 'ed25519', { signature: { algorithms: ['ed25519'] } }],
    ['a token and an Ed25519 signature', 'token+ed25519', { signature: { required: true, algorithms: ['ed25519'] } }],
  ]
  it.each(modes)('%s: ready, then pushes what was sent over HTTP and takes the ack', async (_name, auth, keyBody) => {
    const key = await h.issue('beta', keyBody)
    const ws = await openFrameSocket()
    ws.socket.send(JSON.stringify(frameFor(ws, key, { auth })))
    expect(await ws.next()).toEqual({ type: 'ready', mecha: 'beta', key_id: key.keyId, server_time: expect.any(Number), max_age_seconds: 3600 })
    const sent = await h.send(sender, { to: 'beta', kind: 'k', payload: auth })
    expect(sent.status).toBe(202)
    expect(await ws.next()).toMatchObject({ type: 'message', message: { id: sent.body.id, payload: auth } })
    ws.socket.send(JSON.stringify({ type: 'ack', ids: [sent.body.id], ref: 'a1' }))
    expect(await ws.next()).toEqual({ type: 'acked', ids: [sent.body.id], acknowledged: 1, ref: 'a1' })
    ws.socket.close()
  })

  it('keeps the authorization checked for the life of the socket: a revocation sends closing, then 1008', async () => {
    const key = await h.issue('beta', { signature: { algorithms: ['hmac-sha256'] } })
    const ws = await openFrameSocket()
    ws.socket.send(JSON.stringify(frameFor(ws, key, { auth: 'hmac-sha256' })))
    expect((await ws.next()).type).toBe('ready')
    await h.t.app.inject({ method: 'POST', url: `/v1/keys/${key.keyId}/revoke`, headers: admin })
    expect(await ws.next()).toMatchObject({ type: 'closing', reason: 'invalid_key' })
    expect(await ws.closed).toEqual({ code: 1008, reason: 'invalid_key' })
  })

  it('counts against the key\'s open sockets like a header-authenticated one', async () => {
    const limited = await gatewayHarness({ MECHA_WS_MAX_PER_KEY: '1' })
    try {
      await limited.register('beta')
      const key = await limited.issue('beta')
      const first = await openFrameSocket(limited)
      first.socket.send(JSON.stringify(frameFor(first, key, {}, limited)))
      expect((await first.next()).type).toBe('ready')
      const second = await openFrameSocket(limited)
      second.socket.send(JSON.stringify(frameFor(second, key, {}, limited)))
      const error = await expectRefused(second, 'rate_limited', 429)
      expect(error.code).toBe('RESOURCE_EXHAUSTED')
      first.socket.close()
    } finally {
      await limited.close()
    }
  })
})

describe('GET /v1/connect with first-frame authentication: refused', () => {
  it('a wrong token: invalid_key, and nothing waiting in the inbox is pushed', async () => {
    const key = await h.issue('beta')
    const sent = await h.send(sender, { to: 'beta', kind: 'k', payload: 'not for a guesser' })
    expect(sent.status).toBe(202)
    const ws = await openFrameSocket()
    ws.socket.send(JSON.stringify(frameFor(ws, { ...key, token: formatToken(key.keyId, 'a'.repeat(52)) })))
    await expectRefused(ws, 'invalid_key')
  })

  it('the token of a revoked key: invalid_key', async () => {
    const key = await h.issue('beta')
    await h.t.app.inject({ method: 'POST', url: `/v1/keys/${key.keyId}/revoke`, headers: admin })
    const ws = await openFrameSocket()
    ws.socket.send(JSON.stringify(frameFor(ws, key)))
    await expectRefused(ws, 'invalid_key')
  })

  it('a signature made with another secret: bad_signature', async () => {
    const key = await h.issue('beta', { signature: { algorithms: ['hmac-sha256'] } })
    const ws = await openFrameSocket()
    ws.socket.send(JSON.stringify(frameFor(ws, { ...key, signingSecret: `mss_${'A'.repeat(43)}` }, { auth: 'hmac-sha256' })))
    await expectRefused(ws, 'bad_signature')
  })

  it('a signature over another socket\'s challenge: bad_signature (a captured frame cannot open another socket)', async () => {
    const key = await h.issue('beta', { signature: { algorithms: ['ed25519'] } })
    const first = await openFrameSocket()
    const second = await openFrameSocket()
    const captured = frameFor(first, key, { auth: 'ed25519' })
    second.socket.send(JSON.stringify(captured))
    await expectRefused(second, 'bad_signature')
    // The socket it was made for still accepts it: the refusal spent nothing of it.
    first.socket.send(JSON.stringify(captured))
    expect((await first.next()).type).toBe('ready')
    first.socket.close()
  })

  it('a signature that does not cover the challenge: malformed_credentials', async () => {
    const key = await h.issue('beta', { signature: { algorithms: ['hmac-sha256'] } })
    const ws = await openFrameSocket()
    ws.socket.send(JSON.stringify(frameFor(ws, key, { auth: 'hmac-sha256', uncovered: true })))
    const error = await expectRefused(ws, 'malformed_credentials')
    expect(error.detail).toContain('mecha-challenge')
  })

  it('a signature covering a challenge, sent in headers: malformed_credentials (a frame cannot be replayed as an upgrade)', async () => {
    const key = await h.issue('beta', { signature: { algorithms: ['hmac-sha256'] } })
    const challenge = 'bWVjaGEtZnJhbWUtYXV0aC1leGFtcGxlLWNoYWxsZW5nZSE'
    const headers = runtimeHeaders({
      method: 'GET', url: '/v1/connect', credentials: key, auth: 'hmac-sha256', authority: h.t.config.publicAuthority,
      extraHeaders: { 'mecha-challenge': challenge },
      components: ['@method', '@authority', '@path', '@query', 'mecha-timestamp', 'mecha-nonce', 'mecha-challenge'],
    })
    const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: key, auth: 'hmac-sha256', tamper: (sent) => Object.assign(sent, headers) })
    expect(res.status).toBe(401)
    expect(res.body).toMatchObject({ reason: 'malformed_credentials', detail: expect.stringContaining('mecha-challenge') })
  })

  it('a replayed nonce: replayed_nonce, on the frame path and across the header path', async () => {
    const key = await h.issue('beta', { signature: { algorithms: ['hmac-sha256'] } })
    const nonce = freshNonce()
    const first = await openFrameSocket()
    first.socket.send(JSON.stringify(frameFor(first, key, { auth: 'hmac-sha256', nonce })))
    expect((await first.next()).type).toBe('ready')
    first.socket.close()
    const again = await openFrameSocket()
    again.socket.send(JSON.stringify(frameFor(again, key, { auth: 'hmac-sha256', nonce })))
    await expectRefused(again, 'replayed_nonce')
    const whoami = await h.call({ method: 'GET', url: '/v1/whoami', credentials: key, auth: 'hmac-sha256', nonce })
    expect(whoami).toMatchObject({ status: 401, body: { reason: 'replayed_nonce' } })
  })

  it('a stale timestamp: stale_timestamp with the server time, as over HTTP', async () => {
    const key = await h.issue('beta')
    const ws = await openFrameSocket()
    ws.socket.send(JSON.stringify(frameFor(ws, key, { timestamp: Math.floor(Date.now() / 1000) - 3600 })))
    const error = await expectRefused(ws, 'stale_timestamp')
    expect(error.server_time).toEqual(expect.any(Number))
  })

  it('a message frame before authenticate: missing_credentials', async () => {
    const ws = await openFrameSocket()
    ws.socket.send(JSON.stringify({ type: 'ack', ids: ['msg_1'] }))
    const error = await expectRefused(ws, 'missing_credentials')
    expect(error.detail).toContain('authenticate')
  })

  it('a binary first frame, or one that is not JSON: missing_credentials', async () => {
    const binary = await openFrameSocket()
    binary.socket.send(Buffer.from('{"type":"authenticate"}'))
    await expectRefused(binary, 'missing_credentials')
    const text = await openFrameSocket()
    text.socket.send('hello')
    await expectRefused(text, 'missing_credentials')
  })

  it.each([
    ['no timestamp', { timestamp: undefined }],
    ['a timestamp as a string', { timestamp: '1795300000' }],
    ['an unknown field', { headers: {} }],
    ['no credential', { token: undefined }],
    ['a signature without its input', { signature: 'mecha=:AAAA:' }],
  ])('an authenticate frame with %s: malformed_credentials or missing_credentials', async (_name, change) => {
    const key = await h.issue('beta')
    const ws = await openFrameSocket()
    const frame = { ...frameFor(ws, key), ...change }
    ws.socket.send(JSON.stringify(frame))
    const error = await ws.next()
    expect(error).toMatchObject({ type: 'error', status: 401 })
    expect(['malformed_credentials', 'missing_credentials']).toContain(error.reason)
    expect(await ws.closed).toEqual({ code: 1008, reason: error.reason })
  })

  it('no authenticate frame before the deadline: missing_credentials, counted as a failed authentication', async () => {
    const quick = await gatewayHarness({ MECHA_WS_AUTH_TIMEOUT_SECONDS: '1', MECHA_AUTH_FAILURE_LIMIT: '1' })
    try {
      const ws = await openFrameSocket(quick)
      expect(ws.challenge.expires_in).toBe(1)
      const error = await expectRefused(ws, 'missing_credentials')
      expect(error.detail).toContain('MECHA_WS_AUTH_TIMEOUT_SECONDS')
      const next = new WebSocket(wsUrl(quick), FRAME_AUTH_PROTOCOL)
      expect(await new Promise<number>((resolve) => next.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))).toBe(429)
    } finally {
      await quick.close()
    }
  })

  it('credentials in headers beside the subprotocol: 401 malformed_credentials, before the upgrade', async () => {
    const key = await h.issue('beta')
    const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials: key, authority: h.t.config.publicAuthority })
    const socket = new WebSocket(wsUrl(h), FRAME_AUTH_PROTOCOL, { headers })
    const refused = await new Promise<{ status: number; body: string }>((resolve) => socket.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }))
    expect(refused.status).toBe(401)
    expect(JSON.parse(refused.body)).toMatchObject({ reason: 'malformed_credentials' })
  })

  it('an upgrade without credentials and without the subprotocol is refused as before: 401 missing_credentials', async () => {
    const socket = new WebSocket(wsUrl(h))
    const status = await new Promise<number>((resolve) => socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))
    expect(status).toBe(401)
  })
})

describe('GET /v1/connect with first-frame authentication: sockets that have not authenticated are bounded', () => {
  it('each holds one of its address\'s unauthenticated attempts; the next upgrade is 429, and one that authenticates gives its place back', async () => {
    const limited = await gatewayHarness({ MECHA_AUTH_FAILURE_LIMIT: '3' })
    try {
      await limited.register('beta')
      const key = await limited.issue('beta')
      const pending = await Promise.all([openFrameSocket(limited), openFrameSocket(limited), openFrameSocket(limited)])
      const refused = new WebSocket(wsUrl(limited), FRAME_AUTH_PROTOCOL)
      expect(await new Promise<number>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))).toBe(429)
      // Authenticating frees the slot: another socket may open.
      const first = pending[0] as FrameSocket
      first.socket.send(JSON.stringify(frameFor(first, key, {}, limited)))
      expect((await first.next()).type).toBe('ready')
      const fourth = await openFrameSocket(limited)
      for (const ws of [...pending, fourth]) ws.socket.close()
    } finally {
      await limited.close()
    }
  })

  it('a socket closed by its client before it authenticated gives its place back, and counts nothing', async () => {
    const limited = await gatewayHarness({ MECHA_AUTH_FAILURE_LIMIT: '1' })
    try {
      const ws = await openFrameSocket(limited)
      ws.socket.close()
      await ws.closed
      // The server sees the close a moment later. Had the close counted as a failure, the limit of 1
      // would throttle the address for the whole window and no probe would open.
      await expect.poll(async () => {
        const probe = new WebSocket(wsUrl(limited), FRAME_AUTH_PROTOCOL)
        const opened = await new Promise<boolean>((resolve) => {
          probe.once('open', () => resolve(true))
          probe.once('unexpected-response', () => resolve(false))
        })
        probe.terminate()
        return opened
      }).toBe(true)
    } finally {
      await limited.close()
    }
  })

  it('refused handshakes count as failed authentications: after the limit, the address is throttled', async () => {
    const limited = await gatewayHarness({ MECHA_AUTH_FAILURE_LIMIT: '2' })
    try {
      for (let i = 0; i < 2; i++) {
        const ws = await openFrameSocket(limited)
        ws.socket.send('not an authenticate frame')
        await expectRefused(ws, 'missing_credentials')
      }
      const refused = new WebSocket(wsUrl(limited), FRAME_AUTH_PROTOCOL)
      expect(await new Promise<number>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))).toBe(429)
    } finally {
      await limited.close()
    }
  })
})
