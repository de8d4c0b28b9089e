import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CliHttpError, CliNetworkError, ControlPlaneClient } from '../../src/cli/http.js'
import { startTestControlPlane, type TestControlPlane } from './helpers.js'

let cp: TestControlPlane
let client: ControlPlaneClient
beforeAll(async () => {
  cp = await startTestControlPlane()
  client = new ControlPlaneClient({ baseUrl: cp.url, token: cp.token })
})
afterAll(async () => { await cp.close() })

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { server, url: `http://127.0.0.1:${address.port}` }
}

describe('ControlPlaneClient against the control plane', () => {
  it('covers the routes the commands do not use: update mecha, update key, audit', async () => {
    await client.createMecha({ id: 'http-test' })
    expect((await client.updateMecha('http-test', { name: 'Renamed' })).mecha.name).toBe('Renamed')
    const issued = await client.issueKey('http-test', { label: 'one' })
    expect((await client.updateKey(issued.key.id, { label: 'two' })).key.label).toBe('two')
    const audit = await client.listAudit({ limit: 10, type: 'key.updated' })
    expect(audit.events.map((e) => e.target.id)).toEqual([issued.key.id])
  })

  it('throws a CliHttpError carrying the problem body', async () => {
    const err = await client.getMecha('absent').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CliHttpError)
    expect(err).toMatchObject({ status: 404, problem: { reason: 'mecha_not_found', code: 'NOT_FOUND', detail: 'no mecha absent' } })
  })

  it('keeps a path prefix of the base URL', async () => {
    const seen: string[] = []
    const recording: typeof fetch = async (input, init) => {
      seen.push(String(input))
      return fetch(String(input).replace('/prefix', ''), init)
    }
    await new ControlPlaneClient({ baseUrl: `${cp.url}/prefix/`, token: cp.token, fetch: recording }).listMechas({ limit: 1, after: 'a' })
    expect(seen).toEqual([`${cp.url}/prefix/v1/mechas?limit=1&after=a`])
  })
})

describe('ControlPlaneClient against something else', () => {
  it('does not follow a redirect, so the token never reaches another origin', async () => {
    const received: IncomingHttpHeaders[] = []
    const elsewhere = await listen((req, res) => { received.push(req.headers); res.end('{}') })
    const redirecting = await listen((_req, res) => { res.writeHead(307, { location: `${elsewhere.url}/v1/mechas` }).end() })
    try {
      const err = await new ControlPlaneClient({ baseUrl: redirecting.url, token: cp.token }).listMechas().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CliHttpError)
      expect((err as Error).message).toBe(`GET ${redirecting.url}/v1/mechas was redirected to ${elsewhere.url}/v1/mechas; set --url to the control plane's own address`)
      expect(received).toEqual([])
    } finally {
      elsewhere.server.close()
      redirecting.server.close()
    }
  })

  it('sends the bearer token, and a JSON content type only with a body', async () => {
    const received: IncomingHttpHeaders[] = []
    const echo = await listen((req, res) => { received.push(req.headers); res.end('{"key":{}}') })
    try {
      const other = new ControlPlaneClient({ baseUrl: echo.url, token: 'tok_0123456789' })
      await other.revokeKey('mkaaaaaaaaaaaaaaaaaaaaaaaa')
      await other.rotateKey('mkaaaaaaaaaaaaaaaaaaaaaaaa', 5)
      expect(received.map((h) => [h.authorization, h['content-type']])).toEqual([
        ['Bearer tok_0123456789', undefined],
        ['Bearer tok_0123456789', 'application/json'],
      ])
    } finally {
      echo.server.close()
    }
  })

  it.each([
    [502, 'text/html', '<h1>Bad gateway</h1>', 'answered HTTP 502 without a problem+json body: is this a mecharim control plane?'],
    [200, 'text/html', '<h1>Welcome</h1>', 'answered a body that is not JSON: is this a mecharim control plane?'],
  ])('an HTTP %i %s answer is a CliHttpError without a problem', async (status, type, body, message) => {
    const odd = await listen((_req, res) => { res.writeHead(status, { 'content-type': type }).end(body) })
    try {
      const err = await new ControlPlaneClient({ baseUrl: odd.url, token: cp.token }).getMecha('x').catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CliHttpError)
      expect(err).toMatchObject({ status, problem: undefined, message: `GET ${odd.url}/v1/mechas/x ${message}` })
    } finally {
      odd.server.close()
    }
  })

  it('a server that never answers times out as a CliNetworkError', async () => {
    const silent = await listen(() => undefined)
    try {
      const err = await new ControlPlaneClient({ baseUrl: silent.url, token: cp.token, timeoutMs: 100 }).getMecha('x').catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CliNetworkError)
      expect((err as Error).message).toBe(`cannot reach the control plane at ${silent.url} (timed out): is it running? Set --url or MECHA_URL`)
    } finally {
      silent.server.closeAllConnections()
      silent.server.close()
    }
  })

  it('checks its options when constructed', () => {
    expect(() => new ControlPlaneClient({ baseUrl: 'ftp://host', token: 't' })).toThrow('expected an http(s) URL, got ftp:')
    expect(() => new ControlPlaneClient({ baseUrl: 'http://u:p@host', token: 't' })).toThrow('expected a URL without credentials, query or fragment')
    expect(() => new ControlPlaneClient({ baseUrl: 'http://host', token: '' })).toThrow('expected an operator token, got an empty string')
  })
})
