import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'
import { sendRaw } from '../hardening/raw-http.js'

/**
 * No work for requests nobody will accept (issue 9, item 5): an unmatched route answers before its
 * body is read, and /mcp reads at most 64 KiB (POST) or nothing (DELETE).
 */
let h: GatewayHarness

beforeAll(async () => { h = await gatewayHarness() })
afterAll(async () => { await h.close() })

interface HeadAnswer {
  status: number
  headers: Record<string, string>
  body: Record<string, unknown>
}

/**
 * Write only the request head (announcing a body that is never sent) on a fresh connection and
 * resolve with the first complete response, without ever sending a body byte.
 */
function headOnly(head: string): Promise<HeadAnswer> {
  const url = new URL(h.base)
  return new Promise((resolve, reject) => {
    let received = ''
    const socket = connect(Number(url.port), url.hostname, () => socket.write(head))
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer before the body was sent; got ${JSON.stringify(received)}`)) }, 3000)
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8')
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      const [statusLine = '', ...lines] = received.slice(0, end).split('\r\n')
      const headers = Object.fromEntries(lines.map((line) => {
        const colon = line.indexOf(':')
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
      }))
      const body = received.slice(end + 4)
      if (Buffer.byteLength(body) < Number(headers['content-length'] ?? 0)) return
      clearTimeout(timer)
      socket.destroy()
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> })
    })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

describe('an unmatched route', () => {
  for (const [method, path] of [['POST', '/no/such/route'], ['PUT', '/v1/messages']] as const) {
    it(`answers ${method} ${path} with 404 route_not_found before the announced body is sent, and closes the connection`, async () => {
      const res = await headOnly(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n`)
      expect(res.status).toBe(404)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.body).toMatchObject({ status: 404, code: 'NOT_FOUND', reason: 'route_not_found', type: 'urn:mecharim:problem:route_not_found' })
      expect(res.body.request_id).toBe(res.headers['x-request-id'])
      // The unread body would otherwise be read and discarded to reuse the connection.
      expect(res.headers.connection).toBe('close')
    })
  }

  it('keeps the connection of a bodiless 404 alive', async () => {
    const res = await fetch(`${h.base}/no/such/route`)
    expect(res.status).toBe(404)
    expect(res.headers.get('connection')).not.toBe('close')
    expect(await res.json()).toMatchObject({ reason: 'route_not_found' })
  })
})

describe('POST /mcp', () => {
  const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

  it('refuses a body over 64 KiB with 413 body_too_large, though the app-wide limit is 1 MiB', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(70 * 1024) } })
    const res = await sendRaw(h.base, { method: 'POST', url: '/mcp', headers: mcpHeaders, body })
    expect(res.status).toBe(413)
    expect(res.body).toMatchObject({ reason: 'body_too_large', code: 'RESOURCE_EXHAUSTED' })
  })

  it('still answers a JSON-RPC message under the limit', async () => {
    const res = await sendRaw(h.base, { method: 'POST', url: '/mcp', headers: { ...mcpHeaders, 'mcp-protocol-version': '2025-06-18' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 1, result: {} })
  })
})

describe('DELETE /mcp', () => {
  it('does not parse a body: malformed JSON still gets the MCP 405, not malformed_json', async () => {
    const res = await sendRaw(h.base, { method: 'DELETE', url: '/mcp', headers: { 'content-type': 'application/json' }, body: '{"not json' })
    expect(res.status).toBe(405)
    expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } })
  })

  it('does not read a body: answers 405 before an announced 1 MiB body is sent', async () => {
    const url = new URL(h.base)
    const answer = await new Promise<string>((resolve, reject) => {
      let received = ''
      const socket = connect(Number(url.port), url.hostname, () => socket.write(`DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n`))
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer; got ${JSON.stringify(received)}`)) }, 3000)
      socket.on('data', (chunk) => {
        received += chunk.toString('utf8')
        if (!received.includes('\r\n\r\n')) return
        clearTimeout(timer)
        socket.destroy()
        resolve(received)
      })
      socket.on('error', reject)
    })
    expect(answer).toMatch(/^HTTP\/1\.1 405 /)
    expect(answer.toLowerCase()).toContain('connection: close')
  })
})
