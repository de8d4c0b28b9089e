import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { operator, PUBLIC_AUTHORITY, type RunningGateway } from './gateway.js'
import { sleep } from './processes.js'
import { delta, type RedisStats } from './redis-stats.js'
import type { IdleRow } from './results.js'
import { RequestSigner, type BenchCredentials, type RequestShape } from './signer.js'

/**
 * What idle listeners cost Redis: long-polls (`GET /v1/inbox?wait=30`, re-issued as soon as one
 * returns, as the SDK does) and WebSockets on an inbox that has held messages but receives none
 * while measured. Redis's counters over a window with the listeners, minus the gateway's own
 * background work over a window without them, per listener and per minute.
 */
const LONG_POLLS = 4
const WEB_SOCKETS = 4
/** Covers two long-poll cycles (30 s) and two safety reads (30 s). */
const MEASURE_SECONDS = 60
const BASELINE_SECONDS = 20
const SETTLE_MS = 2000
const LISTENER = 'bench-listener'

export async function idleListeners(gateway: RunningGateway, stats: RedisStats, sender: BenchCredentials): Promise<IdleRow> {
  await operator(gateway, 'POST', '/v1/mechas', { id: LISTENER })
  const issued = await operator(gateway, 'POST', `/v1/mechas/${LISTENER}/keys`, { label: 'bench idle listener' }) as { key: { id: string }; token: string }
  const listener: BenchCredentials = { mode: 'bearer', keyId: issued.key.id, token: issued.token }
  await warmInbox(gateway, sender, listener)

  const before = await stats.snapshot()
  await sleep(BASELINE_SECONDS * 1000)
  const baseline = delta(before, await stats.snapshot())

  const stop = new AbortController()
  const polls = Array.from({ length: LONG_POLLS }, () => pollLoop(gateway, listener, stop.signal))
  const sockets = await Promise.all(Array.from({ length: WEB_SOCKETS }, () => connect(gateway, listener)))
  try {
    await sleep(SETTLE_MS)
    const start = await stats.snapshot()
    await sleep(MEASURE_SECONDS * 1000)
    const measured = delta(start, await stats.snapshot())
    const listeners = LONG_POLLS + WEB_SOCKETS
    const perListenerPerMinute = (withListeners: number, without: number): number =>
      ((withListeners / MEASURE_SECONDS - without / BASELINE_SECONDS) * 60) / listeners
    return {
      longPolls: LONG_POLLS, webSockets: WEB_SOCKETS, seconds: MEASURE_SECONDS,
      commandsPerListenerPerMinute: perListenerPerMinute(measured.commands, baseline.commands),
      roundTripsPerListenerPerMinute: perListenerPerMinute(measured.reads, baseline.reads),
      inboxReadsPerListenerPerMinute: perListenerPerMinute(measured.calls.xautoclaim ?? 0, baseline.calls.xautoclaim ?? 0),
      calls: measured.calls,
    }
  } finally {
    stop.abort()
    for (const socket of sockets) socket.close()
    await Promise.allSettled(polls)
  }
}

function headers(credentials: BenchCredentials, shape: Omit<RequestShape, 'authority'>): Record<string, string> {
  const { 'Content-Length': _length, ...rest } = new RequestSigner(credentials, { ...shape, authority: PUBLIC_AUTHORITY })
    .headers(String(Math.floor(Date.now() / 1000)), randomBytes(18).toString('base64url'))
  return rest
}

async function call(gateway: RunningGateway, credentials: BenchCredentials, method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
  const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  const res = await fetch(`${gateway.url}${path}`, {
    method, headers: headers(credentials, { method, path, body: bytes }), ...(bytes !== undefined ? { body: new Uint8Array(bytes) } : {}),
    signal: signal ?? AbortSignal.timeout(40_000),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`idle listeners: ${method} ${path} answered ${res.status}: ${text}`)
  return JSON.parse(text) as unknown
}

/** One message sent, read and acknowledged: the inbox exists, as any inbox that ever received one does. */
async function warmInbox(gateway: RunningGateway, sender: BenchCredentials, listener: BenchCredentials): Promise<void> {
  await call(gateway, sender, 'POST', '/v1/messages', { to: LISTENER, kind: 'bench.warm-up', payload: {} })
  const { messages } = await call(gateway, listener, 'GET', '/v1/inbox') as { messages: { id: string }[] }
  await call(gateway, listener, 'POST', '/v1/inbox/ack', { ids: messages.map((m) => m.id) })
}

async function pollLoop(gateway: RunningGateway, listener: BenchCredentials, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await call(gateway, listener, 'GET', '/v1/inbox?wait=30', undefined, signal).catch((err: unknown) => {
      if (!signal.aborted) throw err
    })
  }
}

function connect(gateway: RunningGateway, listener: BenchCredentials): Promise<WebSocket> {
  const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/connect`, { headers: headers(listener, { method: 'GET', path: '/v1/connect', body: undefined }) })
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket))
    socket.once('unexpected-response', (_req, res) => reject(new Error(`idle listeners: the upgrade answered ${res.statusCode}`)))
    socket.once('error', reject)
  })
}
