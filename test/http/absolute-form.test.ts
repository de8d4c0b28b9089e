import { connect } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { delivered, drainInbox, gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { runtimeHeaders } from '../helpers/runtime.js'

/**
 * An absolute-form request target (`POST http://host/v1/messages HTTP/1.1`, RFC 9112 section 3.2.2),
 * sent over a raw socket: fetch and node:http only send origin-form. Fastify routes it on its path;
 * `@path` and `@query` are the target's path and query (RFC 9421 sections 2.2.6 and 2.2.7), so the
 * request is routed and verified over the same path.
 */

let h: GatewayHarness
let signer: IssuedRuntime
let beta: IssuedRuntime

const MESSAGE = { to: 'beta', kind: 'task.request', payload: { n: 1 } }

beforeAll(async () => {
  h = await gatewayHarness()
  for (const id of ['alpha', 'beta']) await h.register(id)
  signer = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256'] } })
  beta = await h.issue('beta')
})
afterAll(async () => { await h.close() })
afterEach(async () => {
  await drainInbox(h, beta)
  expect(await delivered(h, 'beta')).toEqual([])
})

/** One request over a fresh socket with `target` as the request target, exactly as given. */
function sendTarget(method: string, target: string, headers: Record<string, string>, body?: string): Promise<{ status: number; reason: string | undefined }> {
  const { hostname, port } = new URL(h.base)
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body, 'utf8')
  const lines = [`${method} ${target} HTTP/1.1`, `host: ${hostname}:${port}`, 'connection: close', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)]
  if (body !== undefined) lines.push(`content-length: ${payload.length}`)
  const wire = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload])
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text)
      if (status === null) {
        reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`))
        return
      }
      const bodyText = text.slice(text.indexOf('\r\n\r\n') + 4)
      const reason = bodyText.startsWith('{') ? (JSON.parse(bodyText) as { reason?: string }).reason : undefined
      resolve({ status: Number(status[1]), reason })
    })
    socket.write(wire)
  })
}

describe('accepted: signed over the path of an absolute-form target', () => {
  it('POST http://host/v1/messages, signed over @path /v1/messages -> 202', async () => {
    const body = JSON.stringify(MESSAGE)
    const headers = runtimeHeaders({ method: 'POST', url: '/v1/messages', body, credentials: signer, auth: 'hmac-sha256', authority: h.t.config.publicAuthority })
    expect(await sendTarget('POST', `${h.base}/v1/messages`, headers, body)).toEqual({ status: 202, reason: undefined })
    expect(await delivered(h, 'beta')).toHaveLength(1)
  })

  it('GET http://host/v1/inbox?wait=0&limit=5, signed over @path /v1/inbox and @query ?wait=0&limit=5 -> 200', async () => {
    const headers = runtimeHeaders({ method: 'GET', url: '/v1/inbox?wait=0&limit=5', credentials: signer, auth: 'hmac-sha256', authority: h.t.config.publicAuthority })
    expect(await sendTarget('GET', `${h.base}/v1/inbox?wait=0&limit=5`, headers)).toEqual({ status: 200, reason: undefined })
  })
})

describe('401 bad_signature: signed over the whole absolute-form target', () => {
  it('@path as the raw target (scheme and authority included) does not verify', async () => {
    const body = JSON.stringify(MESSAGE)
    const url = `${h.base}/v1/messages`
    const headers = runtimeHeaders({ method: 'POST', url, body, credentials: signer, auth: 'hmac-sha256', authority: h.t.config.publicAuthority })
    expect(await sendTarget('POST', url, headers, body)).toEqual({ status: 401, reason: 'bad_signature' })
  })

  it('@query taken from the target, not a query signed for another one', async () => {
    const headers = runtimeHeaders({ method: 'GET', url: '/v1/inbox?wait=0&limit=5', credentials: signer, auth: 'hmac-sha256', authority: h.t.config.publicAuthority })
    expect(await sendTarget('GET', `${h.base}/v1/inbox?wait=0&limit=6`, headers)).toEqual({ status: 401, reason: 'bad_signature' })
  })
})
