import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { runtimeHeaders } from '../helpers/runtime.js'

/**
 * The request limits (src/app.ts) and the WebSocket limits (src/gateway/websocket.ts), each through a
 * real listening server. The values are the configured minimums, or close to them, to keep this fast.
 */
const BODY_LIMIT = 2048
const HEADER_LIMIT = 4096
const WS_MAX_PER_KEY = 2
const WS_IDLE_SECONDS = 5

let h: GatewayHarness
let alpha: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness({
    MECHA_BODY_LIMIT_BYTES: String(BODY_LIMIT),
    MECHA_HEADER_LIMIT_BYTES: String(HEADER_LIMIT),
    MECHA_WS_MAX_PER_KEY: String(WS_MAX_PER_KEY),
    MECHA_WS_IDLE_TIMEOUT_SECONDS: String(WS_IDLE_SECONDS),
  })
  await h.register('alpha')
  await h.register('beta')
  alpha = await h.issue('alpha')
})
afterAll(async () => { await h.close() })

/** Send raw bytes on a fresh connection, and keep it open: resolves with all the server wrote before it closed. */
function rawExchange(bytes: string): Promise<string> {
  const url = new URL(h.base)
  return new Promise((resolve, reject) => {
    let received = ''
    const socket = connect(Number(url.port), url.hostname, () => socket.write(bytes))
    socket.on('data', (chunk) => { received += chunk.toString('utf8') })
    socket.on('close', () => resolve(received))
    socket.on('error', reject)
  })
}

/** Split a raw HTTP/1.1 response into status, lowercase headers and the parsed body. */
function parseRaw(raw: string): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  const [head = '', body = ''] = raw.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map((line) => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
  }))
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> }
}

function expectProblem(res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }, status: number, reason: string): void {
  expect({ status: res.status, reason: res.body.reason }).toEqual({ status, reason })
  expect(res.headers['content-type']).toBe('application/problem+json')
  expect(res.body.request_id).toBe(res.headers['x-request-id'])
  expect(res.body.type).toBe(`urn:mecharim:problem:${reason}`)
}

describe('413 body_too_large (MECHA_BODY_LIMIT_BYTES)', () => {
  it('refuses a runtime message body over the limit', async () => {
    const res = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'x'.repeat(BODY_LIMIT) })
    expect({ status: res.status, reason: res.body.reason, code: res.body.code }).toEqual({ status: 413, reason: 'body_too_large', code: 'RESOURCE_EXHAUSTED' })
  })

  it('refuses an operator body over the limit, and accepts one just under it', async () => {
    const over = await fetch(`${h.base}/v1/mechas`, {
      method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'big', description: 'd'.repeat(BODY_LIMIT) }),
    })
    expect(over.status).toBe(413)
    expect(await over.json()).toMatchObject({ reason: 'body_too_large' })
    const under = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'x'.repeat(BODY_LIMIT - 200) })
    expect(under.status).toBe(202)
  })
})

describe('431 header_too_large (MECHA_HEADER_LIMIT_BYTES)', () => {
  it('answers problem+json and closes the connection, before any route runs', async () => {
    const res = await fetch(`${h.base}/healthz`, { headers: { 'x-padding': 'a'.repeat(HEADER_LIMIT + 100) } })
    const body = await res.json() as Record<string, unknown>
    const headers = { 'content-type': res.headers.get('content-type') ?? '', 'x-request-id': res.headers.get('x-request-id') ?? '' }
    expectProblem({ status: res.status, headers, body }, 431, 'header_too_large')
    expect(res.headers.get('connection')).toBe('close')
    expect(body).toMatchObject({ code: 'INVALID_ARGUMENT', detail: `the request headers exceed ${HEADER_LIMIT} bytes` })
  })

  it('accepts headers under the limit', async () => {
    const res = await fetch(`${h.base}/healthz`, { headers: { 'x-padding': 'a'.repeat(HEADER_LIMIT - 512) } })
    expect(res.status).toBe(200)
  })

  it('refuses a runtime request and a WebSocket upgrade the same way, whatever their credentials', async () => {
    const extraHeaders = { 'x-padding': 'a'.repeat(HEADER_LIMIT) }
    const sent = await h.send(alpha, { to: 'beta', kind: 'k', payload: 1 }, { extraHeaders })
    expect({ status: sent.status, reason: sent.body.reason }).toEqual({ status: 431, reason: 'header_too_large' })
    const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials: alpha, authority: h.t.config.publicAuthority, extraHeaders })
    const refused = await upgradeRefusal(new WebSocket(`${h.base.replace('http', 'ws')}/v1/connect`, { headers }))
    expect({ status: refused.status, reason: refused.body.reason }).toEqual({ status: 431, reason: 'header_too_large' })
  })
})

describe('400 invalid_request for malformed HTTP', () => {
  it('answers problem+json to a request line that is not HTTP', async () => {
    expectProblem(parseRaw(await rawExchange('NOT HTTP AT ALL\r\n\r\n')), 400, 'invalid_request')
  })
})

describe('404 route_not_found for CONNECT (the server is no proxy)', () => {
  // Node closes a CONNECT without a word unless the server listens for it: the client got no answer.
  it.each(['CONNECT 127.0.0.1:443 HTTP/1.1', 'CONNECT /v1/messages HTTP/1.1'])('answers %s with problem+json, then closes', async (line) => {
    const res = parseRaw(await rawExchange(`${line}\r\nHost: x\r\n\r\n`))
    expectProblem(res, 404, 'route_not_found')
    expect(res.headers.connection).toBe('close')
  })
})

describe('408 request_timeout (MECHA_REQUEST_TIMEOUT_SECONDS)', () => {
  it('answers a client that does not finish sending its request in time, and closes the connection', async () => {
    // The configured minimum is 31 s: shorten the server's own settings to keep the test fast.
    const server = h.t.app.server
    const configured = { requestTimeout: server.requestTimeout, headersTimeout: server.headersTimeout }
    expect(configured).toEqual({ requestTimeout: h.t.config.requestTimeoutSeconds * 1000, headersTimeout: h.t.config.requestTimeoutSeconds * 1000 })
    Object.assign(server, { requestTimeout: 1000, headersTimeout: 1000 })
    try {
      const started = Date.now()
      // Headers complete, body promised but never sent.
      const raw = await rawExchange(`POST /v1/mechas HTTP/1.1\r\nHost: x\r\nAuthorization: ${admin.authorization}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`)
      expect(Date.now() - started).toBeLessThan(4000)
      const res = parseRaw(raw)
      expectProblem(res, 408, 'request_timeout')
      expect(res.headers.connection).toBe('close')
    } finally {
      Object.assign(server, configured)
    }
  })

  it('applies the header limit through Node (maxHeaderSize) and the request timeout above the 30 s long-poll', () => {
    // Stored by Node from the server options (not in its type declarations).
    expect((h.t.app.server as { maxHeaderSize?: number }).maxHeaderSize).toBe(HEADER_LIMIT)
    expect(h.t.config.requestTimeoutSeconds).toBeGreaterThan(30)
  })
})

interface OpenSocket {
  socket: WebSocket
  closed: Promise<{ code: number; at: number }>
}

function upgradeRefusal(socket: WebSocket): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    socket.once('open', () => reject(new Error('the upgrade was accepted')))
    socket.once('error', () => undefined)
    socket.once('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString('utf8') })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }))
    })
  })
}

function connectSocket(credentials: IssuedRuntime, options: { autoPong?: boolean } = {}): WebSocket {
  const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials, authority: h.t.config.publicAuthority })
  return new WebSocket(`${h.base.replace('http', 'ws')}/v1/connect`, { headers, ...options })
}

function open(credentials: IssuedRuntime, options: { autoPong?: boolean } = {}): Promise<OpenSocket> {
  const socket = connectSocket(credentials, options)
  const closed = new Promise<{ code: number; at: number }>((resolve) => socket.on('close', (code) => resolve({ code, at: Date.now() })))
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, closed }))
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })
}

describe('429 rate_limited: open WebSockets per key (MECHA_WS_MAX_PER_KEY)', () => {
  it('refuses the upgrade beyond the cap with problem+json, counts per key, and frees the slot on close', async () => {
    const key = await h.issue('beta')
    const first = await open(key)
    const second = await open(key)
    expect(h.t.app.openSockets.countFor(key.keyId)).toBe(WS_MAX_PER_KEY)

    const refused = await upgradeRefusal(connectSocket(key))
    expect({ status: refused.status, reason: refused.body.reason, code: refused.body.code }).toEqual({ status: 429, reason: 'rate_limited', code: 'RESOURCE_EXHAUSTED' })
    expect(String(refused.body.detail)).toContain(`already holds ${WS_MAX_PER_KEY} open WebSockets`)
    // The refused attempt took no slot, and holds no connection.
    expect(h.t.app.openSockets.countFor(key.keyId)).toBe(WS_MAX_PER_KEY)

    // Another key of the same mecha has its own slots.
    const other = await open(await h.issue('beta'))
    other.socket.close()

    first.socket.close()
    await first.closed
    await expect.poll(() => h.t.app.openSockets.countFor(key.keyId)).toBe(WS_MAX_PER_KEY - 1)
    const third = await open(key)
    for (const s of [second, third]) s.socket.close()
    await Promise.all([second.closed, third.closed])
    await expect.poll(() => h.t.app.openSockets.countFor(key.keyId)).toBe(0)
  })

  it('gives a refused upgrade (bad credentials) no slot', async () => {
    const key = await h.issue('beta')
    const refused = await upgradeRefusal(connectSocket({ ...key, token: `${key.token?.slice(0, -1)}${key.token?.endsWith('a') ? 'b' : 'a'}` }))
    expect(refused.status).toBe(401)
    expect(h.t.app.openSockets.countFor(key.keyId)).toBe(0)
  })
})

describe('WebSocket idle timeout (MECHA_WS_IDLE_TIMEOUT_SECONDS)', () => {
  it('terminates a socket that sends nothing and answers no ping, and keeps one that answers pings', async () => {
    const key = await h.issue('beta')
    const opened = Date.now()
    const silent = await open(key, { autoPong: false })
    const alive = await open(key)
    const { code, at } = await silent.closed
    // Terminated (no closing handshake: 1006), after the timeout and at most a quarter of it late.
    expect(code).toBe(1006)
    expect(at - opened).toBeGreaterThanOrEqual(WS_IDLE_SECONDS * 1000 - 100)
    expect(at - opened).toBeLessThan(WS_IDLE_SECONDS * 1250 + 500)
    expect(alive.socket.readyState).toBe(WebSocket.OPEN)
    alive.socket.close()
    await alive.closed
  }, 15_000)
})
