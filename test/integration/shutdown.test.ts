import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest, type ClientRequest } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { OPERATORS, OPERATOR_TOKENS_JSON } from '../helpers/app.js'
import { spawnService, type ServiceProcess } from '../helpers/process.js'
import { runtimeHeaders, type RuntimeCredentials } from '../helpers/runtime.js'

/**
 * SIGTERM on the real service process (dist/main.js): no new connections, in-flight requests finish
 * within MECHA_SHUTDOWN_GRACE_SECONDS, a long-poll is answered at once, WebSockets are closed with 1001,
 * the stores close, and the process exits 0. MECHA_TEST_TIMELINE=1 prints the timeline.
 */
const AUTHORITY = 'gateway.test'
const cwd = mkdtempSync(join(tmpdir(), 'mecharim-shutdown-'))
let svc: ServiceProcess | undefined
afterEach(() => { svc?.child.kill('SIGKILL') })
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

async function start(graceSeconds: number): Promise<ServiceProcess> {
  svc = await spawnService({
    // debug: `received` waits for "incoming request" lines, and the pipe tests need lines to fill the
    // pipe; development logs the per-request lines at debug.
    PORT: '0', LOG_LEVEL: 'debug', MECHA_PUBLIC_URL: `http://${AUTHORITY}`, MECHA_DATA_DIR: mkdtempSync(join(cwd, 'data-')),
    MECHA_MASTER_KEY: randomBytes(32).toString('hex'), MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON,
    MECHA_SHUTDOWN_GRACE_SECONDS: String(graceSeconds),
  }, cwd)
  return svc
}

async function operator(base: string, path: string, body: object): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${base}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${OPERATORS.admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  })
  return { status: res.status, body: await res.json() }
}

async function runtimeKey(base: string, mecha: string): Promise<RuntimeCredentials> {
  const issued = await operator(base, `/v1/mechas/${mecha}/keys`, {})
  expect(issued.status).toBe(201)
  return { keyId: issued.body.key.id, token: issued.body.token }
}

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; text: string }

/**
 * A runtime request on its own connection (no pooling, so "new connections are refused" means what it
 * says). `bodyParts` are written one by one: `release()` sends the parts after the first.
 */
function runtimeCall(base: string, method: string, url: string, credentials: RuntimeCredentials, bodyParts: string[] = []): { answer: Promise<Answer>; release(): void; request: ClientRequest } {
  const body = bodyParts.join('')
  const headers = runtimeHeaders({ method, url, credentials, authority: AUTHORITY, ...(body !== '' ? { body } : {}) })
  const request = httpRequest(`${base}${url}`, { method, agent: false, headers: { ...headers, ...(body !== '' ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } })
  const answer = new Promise<Answer>((resolve, reject) => {
    request.on('response', (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString('utf8') })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
    })
    request.on('error', reject)
  })
  const [first, ...rest] = bodyParts
  if (first === undefined) request.end()
  else request.write(first)
  return { answer, request, release: () => { for (const part of rest) request.write(part); request.end() } }
}

/** Resolves with the time a fresh TCP connection is first refused. */
async function refusedAt(base: string, deadlineMs: number): Promise<number> {
  const { hostname, port } = new URL(base)
  const stop = Date.now() + deadlineMs
  while (Date.now() < stop) {
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), hostname, () => { socket.destroy(); resolve('connected') })
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    })
    if (outcome === 'ECONNREFUSED') return Date.now()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`new connections were still accepted ${deadlineMs} ms after SIGTERM`)
}

interface LogLine { msg: string; time: number; req?: { method: string; url: string } }

function logLines(svc: ServiceProcess): LogLine[] {
  return svc.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)
}

/** Wait until the service has logged that it received these requests (so they are in flight, not in a backlog). */
async function received(svc: ServiceProcess, ...requests: string[]): Promise<void> {
  const seen = (request: string): boolean => logLines(svc).some((l) => l.msg === 'incoming request' && `${l.req?.method} ${l.req?.url}` === request)
  for (const stop = Date.now() + 5000; !requests.every(seen);) {
    if (Date.now() > stop) throw new Error(`the service did not receive ${requests.join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function printTimeline(title: string, events: Record<string, number>, sigterm: number): void {
  if (process.env.MECHA_TEST_TIMELINE !== '1') return
  const rows = Object.entries(events).sort(([, a], [, b]) => a - b).map(([what, at]) => `  ${String(at - sigterm).padStart(6)} ms  ${what}`)
  process.stderr.write(`\n${title} (ms after SIGTERM)\n${rows.join('\n')}\n`)
}

describe('SIGTERM', () => {
  it('answers the long-poll, closes WebSockets with 1001, finishes in-flight requests, refuses new connections, closes the stores and exits 0 within the grace', async () => {
    const graceSeconds = 5
    const service = await start(graceSeconds)
    for (const id of ['sender', 'reader']) expect((await operator(service.url, '/v1/mechas', { id })).status).toBe(201)
    const sender = await runtimeKey(service.url, 'sender')
    const reader = await runtimeKey(service.url, 'reader')
    const events: Record<string, number> = {}

    // An open WebSocket, authenticated and ready.
    const wsHeaders = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials: reader, authority: AUTHORITY })
    const socket = new WebSocket(`${service.url.replace('http', 'ws')}/v1/connect`, { headers: wsHeaders })
    const wsClosed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => {
      events['WebSocket closed'] = Date.now()
      resolve({ code, reason: reason.toString() })
    }))
    await new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve())
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    })

    // A long-poll that would wait 30 s, and a slow request: headers and half its body sent.
    const longPoll = runtimeCall(service.url, 'GET', '/v1/inbox?wait=30', reader)
    const message = JSON.stringify({ to: 'reader', kind: 'task.request', payload: { during: 'shutdown' } })
    const slow = runtimeCall(service.url, 'POST', '/v1/messages', sender, [message.slice(0, 20), message.slice(20)])
    void longPoll.answer.then(() => { events['long-poll answered'] = Date.now() }, () => undefined)
    void slow.answer.then(() => { events['slow request answered'] = Date.now() }, () => undefined)
    // Both are in the server's hands (the long-poll is waiting, the slow request's headers were read).
    await received(service, 'GET /v1/inbox?wait=30', 'POST /v1/messages')
    await new Promise((resolve) => setTimeout(resolve, 200))

    const sigterm = Date.now()
    service.child.kill('SIGTERM')
    void service.exited.then(() => { events['process exited'] = Date.now() })

    const polled = await longPoll.answer
    expect(polled.status).toBe(200)
    expect(JSON.parse(polled.text)).toEqual({ messages: [] })
    expect(polled.headers.connection).toBe('close')
    expect(events['long-poll answered']! - sigterm).toBeLessThan(1000)

    expect(await wsClosed).toEqual({ code: 1001, reason: 'server shutting down' })
    expect(events['WebSocket closed']! - sigterm).toBeLessThan(1000)

    events['new connection refused'] = await refusedAt(service.url, 1000)

    // The in-flight request finishes after SIGTERM, and is accepted.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, sigterm + 1000 - Date.now())))
    events['slow request body completed'] = Date.now()
    slow.release()
    const accepted = await slow.answer
    expect(accepted.status, accepted.text).toBe(202)
    expect(JSON.parse(accepted.text)).toMatchObject({ from: 'sender', to: 'reader', kind: 'task.request' })

    expect(await service.exited).toBe(0)
    const exitedAfter = events['process exited']! - sigterm
    expect(exitedAfter).toBeLessThan(graceSeconds * 1000)
    expect(events['process exited']!).toBeGreaterThanOrEqual(events['slow request answered']!)

    const logs = logLines(service)
    const shuttingDown = logs.find((l) => l.msg === 'shutting down')
    const storesClosed = logs.find((l) => l.msg === 'stores closed')
    expect(shuttingDown).toBeDefined()
    expect(storesClosed).toBeDefined()
    events['log: shutting down'] = shuttingDown!.time
    events['log: stores closed'] = storesClosed!.time
    expect(storesClosed!.time).toBeGreaterThanOrEqual(events['slow request answered']! - 50)
    expect(logs.map((l) => l.msg)).not.toContain('shutdown grace over: closing the connections still open')
    printTimeline('graceful shutdown', events, sigterm)
  })

  it('cuts off a request that does not finish when the grace ends, and still closes the stores and exits 0', async () => {
    const graceSeconds = 2
    const service = await start(graceSeconds)
    expect((await operator(service.url, '/v1/mechas', { id: 'sender' })).status).toBe(201)
    const sender = await runtimeKey(service.url, 'sender')
    const message = JSON.stringify({ to: 'sender', kind: 'k', payload: 'never finished' })
    const stalled = runtimeCall(service.url, 'POST', '/v1/messages', sender, [message.slice(0, 10), message.slice(10)])
    const cutOff = stalled.answer.then(() => 'answered', (err: NodeJS.ErrnoException) => err.code ?? 'error')
    await received(service, 'POST /v1/messages')

    const sigterm = Date.now()
    service.child.kill('SIGTERM')
    expect(await service.exited).toBe(0)
    const exitedAfter = Date.now() - sigterm
    expect(exitedAfter).toBeGreaterThanOrEqual(graceSeconds * 1000 - 100)
    expect(exitedAfter).toBeLessThan(graceSeconds * 1000 + 1500)
    expect(await cutOff).toBe('ECONNRESET')
    // By their times: the lines may reach stdout out of order.
    const logs = logLines(service)
    const graceOver = logs.find((l) => l.msg === 'shutdown grace over: closing the connections still open')
    const storesClosed = logs.find((l) => l.msg === 'stores closed')
    expect(graceOver).toBeDefined()
    expect(storesClosed!.time).toBeGreaterThanOrEqual(graceOver!.time)
    expect(graceOver!.time - sigterm).toBeGreaterThanOrEqual(graceSeconds * 1000 - 100)
  })
})

// Regression (issue 11): with its stdout pipe closed (`npm start | head -5`), SIGTERM sometimes left
// the process running for minutes. Whatever happened to stdout or stderr, it must end within the grace.
// Stuck was the exit itself: pino flushes its buffered lines synchronously at exit and retries for as
// long as the pipe stays full.
describe('SIGTERM whatever happened to the output pipes', () => {
  /** The grace, the stores' close margin (serve.ts) and the exit-flush deadline (cli/exit.ts), plus slack for a loaded machine. */
  const GRACE_SECONDS = 1
  const BOUND_MS = (GRACE_SECONDS + 5 + 2 + 2) * 1000
  it.each([
    ['stdout is closed', 'close-stdout'],
    ['stderr is closed', 'close-stderr'],
    ['stdout is full and nobody reads it', 'full-stdout'],
  ])('ends the process in time when %s', async (_what, how) => {
    const service = await start(GRACE_SECONDS)
    if (how === 'close-stdout') service.child.stdout.destroy()
    if (how === 'close-stderr') service.child.stderr.destroy()
    if (how === 'full-stdout') service.child.stdout.pause()
    // Log lines the process now cannot write: each request logs two at debug (more than a 64 KiB pipe holds).
    for (let i = 0; i < 400; i++) await fetch(`${service.url}/healthz`)
    const began = Date.now()
    service.child.kill('SIGTERM')
    const ended = await Promise.race([service.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), BOUND_MS))])
    expect(ended, `still running ${Date.now() - began} ms after SIGTERM`).toBe(true)
  }, 40_000)
})
