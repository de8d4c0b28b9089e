import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { MechaClient, MechaCredentials } from '../../src/client/index.js'
import { BROWSER_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, describeWithChromium } from '../helpers/chromium.js'
import { sdkHarness, type SdkHarness } from './harness.js'

/**
 * Issue 11 item 8: the SDK's connect() in a real browser. Chromium loads the built ESM files of
 * dist/client as they are (no bundler; an import map resolves @noble/*), from a page on an origin of
 * its own, and connects to a gateway on another: a browser's WebSocket sends no headers, so this is
 * first-frame authentication end to end. The page's origin also passes /v1/* through to the gateway
 * (as one reverse proxy in front of an app and a gateway would), for the README's list of what works
 * in browsers: HTTP calls on the gateway's own origin, not across origins (the gateway sends no CORS
 * headers).
 */
const ROOT = new URL('../../', import.meta.url).pathname
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html' }
const PAGE = `<!doctype html><meta charset="utf-8"><title>mecharim sdk</title>
<script type="importmap">{"imports":{"@noble/hashes/":"/node_modules/@noble/hashes/","@noble/ed25519":"/node_modules/@noble/ed25519/index.js"}}</script>
<script type="module">import('/dist/client/index.js').then((sdk) => { window.sdk = sdk }, (error) => { window.sdkError = String(error) })</script>
<p>SDK test page</p>`

/** The page, the built SDK and noble, and /v1/* passed through to the gateway. */
function pageServer(gateway: string): Server {
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const path = new URL(request.url ?? '/', 'http://page').pathname
      if (path.startsWith('/v1/')) return passThrough(request, response, gateway)
      if (path === '/') {
        response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE)
        return
      }
      const file = normalize(join(ROOT, path))
      if (!(file.startsWith(join(ROOT, 'dist')) || file.startsWith(join(ROOT, 'node_modules', '@noble')))) {
        response.writeHead(404).end()
        return
      }
      try {
        response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(await readFile(file))
      } catch {
        response.writeHead(404).end()
      }
    })()
  })
}

async function passThrough(request: IncomingMessage, response: ServerResponse, gateway: string): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name))) as Record<string, string>
  const answer = await fetch(`${gateway}${request.url ?? '/'}`, { method: request.method ?? 'GET', headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) })
  const passed: Record<string, string> = {}
  answer.headers.forEach((value, name) => { if (name !== 'content-length' && name !== 'transfer-encoding') passed[name] = value })
  response.writeHead(answer.status, passed).end(Buffer.from(await answer.arrayBuffer()))
}

interface PageFrames {
  sent: string[]
  received: string[]
}

describeWithChromium('the SDK in a real browser', () => {
  let h: SdkHarness
  let alpha: MechaClient
  let page: Server
  let pageOrigin: string
  let browser: Browser

  beforeAll(async () => {
    h = await sdkHarness()
    alpha = h.client(await h.runtime('alpha', 'token'))
    page = pageServer(h.base)
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve))
    pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  }, BROWSER_TIMEOUT_MS)

  afterAll(async () => {
    await browser?.close()
    await new Promise((resolve) => page?.close(resolve))
    await h?.close()
  })

  /** A fresh page on the page origin with the SDK loaded, recording the WebSocket frames Chromium sends and receives. */
  async function sdkPage(): Promise<{ page: Page; frames: PageFrames; errors: string[] }> {
    const tab = await browser.newPage()
    const frames: PageFrames = { sent: [], received: [] }
    const errors: string[] = []
    tab.on('pageerror', (error) => errors.push(error.message))
    tab.on('websocket', (socket) => {
      socket.on('framesent', (frame) => frames.sent.push(String(frame.payload)))
      socket.on('framereceived', (frame) => frames.received.push(String(frame.payload)))
    })
    // The browser's own WebSocket, only watched: what the SDK offered, and what the gateway selected.
    await tab.addInitScript(() => {
      const opened: { offered: unknown; socket: WebSocket }[] = []
      const Native = window.WebSocket
      class Watched extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols)
          opened.push({ offered: protocols, socket: this })
        }
      }
      Object.assign(window, { WebSocket: Watched, openedSockets: opened })
    })
    expect((await tab.goto(pageOrigin))?.status()).toBe(200)
    // Loaded by the page itself (a module script): the SDK's files as built, resolved by the browser.
    // A module that fails to load (test/unit/client/portable.test.ts names the usual cause) is said, not a timeout.
    await tab.waitForFunction(() => 'sdk' in window || 'sdkError' in window, undefined, { timeout: 30_000 })
    const failed = await tab.evaluate(() => (window as unknown as { sdkError?: string }).sdkError)
    if (failed !== undefined) throw new Error(`the SDK did not load in the page: ${failed}`)
    return { page: tab, frames, errors }
  }

  it.each(['ed25519', 'hmac-sha256', 'token'] as const)('connect() with %s credentials: authenticates in the first frame, receives what Node sent, acks over the socket', async (mode) => {
    const mecha = `browser-${mode.replace(/\W/g, '-')}`
    const credentials = await h.runtime(mecha, mode)
    const { page: tab, frames, errors } = await sdkPage()
    const ready = await tab.evaluate(async ({ url, authority, credentials }) => {
      const { sdk } = window as unknown as { sdk: typeof import('../../src/client/index.js') }
      const client = new sdk.MechaClient({ url, authority, ...(credentials as MechaCredentials) })
      const connection = client.connect()
      Object.assign(window, { connection })
      return connection.ready
    }, { url: h.base, authority: h.t.config.publicAuthority, credentials })
    expect(ready).toMatchObject({ mecha, key_id: credentials.keyId })

    const accepted = await alpha.send({ to: mecha, kind: 'browser.test', payload: { mode } })
    const received = await tab.evaluate(async () => {
      const { connection } = window as unknown as { connection: import('../../src/client/index.js').MechaConnection }
      const next = await connection[Symbol.asyncIterator]().next()
      if (next.done === true) throw new Error('the connection ended')
      const acknowledged = await next.value.ack()
      connection.close()
      return { id: next.value.id, from: next.value.from, payload: next.value.payload, acknowledged }
    })
    expect(received).toEqual({ id: accepted.id, from: 'alpha', payload: { mode }, acknowledged: 1 })

    // What went over the wire: the subprotocol, the challenge, one authenticate frame, then ready.
    expect(await tab.evaluate(() => (window as unknown as { openedSockets: { offered: unknown; socket: WebSocket }[] }).openedSockets
      .map(({ offered, socket }) => ({ offered, selected: socket.protocol })))).toEqual([{ offered: ['mecha.frame-auth'], selected: 'mecha.frame-auth' }])
    const first = JSON.parse(frames.received[0] ?? '{}') as { type?: string; challenge?: string }
    expect(first).toMatchObject({ type: 'challenge', challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) })
    const authenticate = JSON.parse(frames.sent[0] ?? '{}') as Record<string, unknown>
    expect(authenticate).toMatchObject({ type: 'authenticate', timestamp: expect.any(Number), nonce: expect.any(String) })
    if (mode === 'token') expect(authenticate.signature).toBeUndefined()
    else {
      expect(authenticate.token).toBeUndefined()
      expect(String(authenticate.signature_input)).toContain('"mecha-challenge"')
    }
    expect(JSON.parse(frames.received[1] ?? '{}')).toMatchObject({ type: 'ready', mecha })
    expect(errors).toEqual([])
    await tab.close()
  }, BROWSER_TIMEOUT_MS)

  it('a refusal reaches the page with its reason and status, which a refused upgrade could not give a browser', async () => {
    const credentials = await h.runtime('browser-refused', 'hmac-sha256')
    const { page: tab } = await sdkPage()
    const error = await tab.evaluate(async ({ url, authority, credentials }) => {
      const { sdk } = window as unknown as { sdk: typeof import('../../src/client/index.js') }
      const client = new sdk.MechaClient({ url, authority, ...(credentials as MechaCredentials), signingSecret: `mss_${'A'.repeat(43)}` })
      return client.connect({ reconnect: false }).ready.then(() => undefined, (err: { name: string; status: number; reason: string; code: string }) => ({ name: err.name, status: err.status, reason: err.reason, code: err.code }))
    }, { url: h.base, authority: h.t.config.publicAuthority, credentials })
    expect(error).toEqual({ name: 'MechaError', status: 401, reason: 'bad_signature', code: 'UNAUTHENTICATED' })
    await tab.close()
  }, BROWSER_TIMEOUT_MS)

  it('HTTP calls work on the gateway\'s own origin, and not across origins (no CORS)', async () => {
    const credentials = await h.runtime('browser-http', 'ed25519')
    const { page: tab } = await sdkPage()
    const outcome = await tab.evaluate(async ({ pageOrigin, gateway, authority, credentials }) => {
      const { sdk } = window as unknown as { sdk: typeof import('../../src/client/index.js') }
      const sameOrigin = new sdk.MechaClient({ url: pageOrigin, authority, ...(credentials as MechaCredentials) })
      const crossOrigin = new sdk.MechaClient({ url: gateway, authority, ...(credentials as MechaCredentials) })
      const whoami = await sameOrigin.whoami()
      const sent = await sameOrigin.send({ to: 'alpha', kind: 'from.browser', payload: 1 })
      const refused = await crossOrigin.whoami().then(() => 'answered', (err: { reason: string }) => err.reason)
      return { mecha: whoami.mecha, verifiedBy: whoami.verified_by, sent: sent.to, refused }
    }, { pageOrigin, gateway: h.base, authority: h.t.config.publicAuthority, credentials })
    expect(outcome).toEqual({ mecha: 'browser-http', verifiedBy: { token: false, signature: 'ed25519' }, sent: 'alpha', refused: 'network_error' })
    await tab.close()
  }, BROWSER_TIMEOUT_MS)
})
