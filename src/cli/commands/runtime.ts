import { MechaError, type MechaClient, type MechaConnection, type Message, type WhoAmI } from '../../client/index.js'
import { UsageError, expectPositionals, parseWholeNumber } from '../args.js'
import { printJson, printUsage, type CommandIo } from '../command.js'
import { formatList, formatTime, renderFields } from '../format.js'
import { RUNTIME_OPTIONS, describeMechaError, parseRuntime, readPayload, runRuntime, runtimeClient, sdk, type RuntimeIo } from '../runtime-client.js'
import { USAGE } from '../usage.js'

export type { RuntimeIo } from '../runtime-client.js'

const SEND_OPTIONS = {
  ...RUNTIME_OPTIONS,
  payload: { type: 'string' },
  'payload-file': { type: 'string' },
  'idempotency-key': { type: 'string' },
  // Refused with a pointer to --idempotency-key (message ids are the gateway's).
  id: { type: 'string' },
  'reply-to': { type: 'string' },
  ttl: { type: 'string' },
  'deliver-after': { type: 'string' },
  'no-receipts': { type: 'boolean' },
  json: { type: 'boolean' },
} as const

const LISTEN_OPTIONS = {
  ...RUNTIME_OPTIONS, poll: { type: 'boolean' }, ack: { type: 'boolean' }, limit: { type: 'string' }, count: { type: 'string' },
} as const
const WHOAMI_OPTIONS = { ...RUNTIME_OPTIONS, json: { type: 'boolean' } } as const

const POLL_WAIT_SECONDS = 20
/** The gateway's largest GET /v1/inbox limit. */
const MAX_POLL_LIMIT = 100
const MAX_BACKOFF_MS = 30_000
/** The closing reason of a connection that reached the gateway's maximum age (MECHA_WS_MAX_AGE_SECONDS). */
const REAUTHENTICATE = 'reauthenticate'

/** `mecharim send <to> <kind>`: send a message as the runtime. */
export function send(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.send, async () => {
    const { values, positionals } = parseRuntime(io.argv, SEND_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.send)
    const [to, kind] = expectPositionals(positionals, ['to', 'kind'])
    if (values.id !== undefined) throw new UsageError('--id is gone: the gateway assigns message ids; use --idempotency-key KEY to make a repeated send idempotent')
    const ttlSeconds = values.ttl === undefined ? undefined : parseWholeNumber('ttl', values.ttl)
    const deliverAfter = values['deliver-after'] === undefined ? undefined : parseDeliverAfter(values['deliver-after'])
    const payload = await readPayload(values.payload, values['payload-file'])
    const client = await runtimeClient(io, values)
    const accepted = await sdk(() => client.send({
      to, kind, payload, ...(values['idempotency-key'] !== undefined ? { idempotencyKey: values['idempotency-key'] } : {}), ...(values['reply-to'] !== undefined ? { reply_to: values['reply-to'] } : {}),
      ...(ttlSeconds !== undefined ? { ttlSeconds } : {}), ...(deliverAfter !== undefined ? { deliverAfter } : {}), ...(values['no-receipts'] === true ? { receipts: false } : {}),
    }))
    if (values.json === true) return printJson(io, accepted)
    io.stdout.write(`Accepted message ${accepted.id} from ${accepted.from} to ${accepted.to} (kind ${accepted.kind}) at ${formatTime(accepted.accepted_at)}.\n`)
    return 0
  })
}

/** `--deliver-after`: whole unix seconds, or an RFC 3339 time (with a date, a time and a zone). */
function parseDeliverAfter(raw: string): number | Date {
  if (/^\d+$/.test(raw)) return parseWholeNumber('deliver-after', raw)
  const ms = RFC3339_RE.test(raw) ? Date.parse(raw) : Number.NaN
  if (!Number.isFinite(ms)) throw new UsageError(`--deliver-after expects unix seconds or an RFC 3339 time, got ${JSON.stringify(raw)}`)
  return new Date(ms)
}

const RFC3339_RE = /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$/

/** `mecharim whoami`: the key as the gateway sees it. */
export function whoami(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.whoami, async () => {
    const { values, positionals } = parseRuntime(io.argv, WHOAMI_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.whoami)
    expectPositionals(positionals, [])
    const me = await (await runtimeClient(io, values)).whoami()
    if (values.json === true) return printJson(io, me)
    io.stdout.write(renderWhoami(me))
    return 0
  })
}

/**
 * `mecharim listen`: print each delivered message as one JSON line on stdout, over the WebSocket
 * (default) or by long-polling the inbox, until SIGINT/SIGTERM. A lost connection is retried with
 * backoff, and the WebSocket reconnects with fresh credentials at the gateway's maximum connection
 * age; a refusal (bad credentials), or a connection closed for its credentials (a revoked key),
 * ends the command.
 */
export function listen(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.listen, async () => {
    const { values, positionals } = parseRuntime(io.argv, LISTEN_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.listen)
    expectPositionals(positionals, [])
    if (values.limit !== undefined && values.poll !== true) throw new UsageError('--limit applies to --poll only')
    const limit = values.limit === undefined ? undefined : parseWholeNumber('limit', values.limit)
    const count = values.count === undefined ? Number.POSITIVE_INFINITY : parseWholeNumber('count', values.count)
    if (count === 0) throw new UsageError('--count expects at least 1, got "0"')
    const client = await runtimeClient(io, values)
    const stop = stopSignal(io)
    try {
      const receiver = values.poll === true ? pollInbox : readSocket
      // Shared across reconnects: --count is the number printed in all, not per connection.
      const remaining = { messages: count }
      await retryWhileUnavailable(io, stop.signal, (connected) => receiver(io, client, { ack: values.ack === true, limit, remaining, signal: stop.signal, connected }))
      return 0
    } catch (err) {
      if (stop.signal.aborted) return 0
      throw err
    } finally {
      stop.dispose()
    }
  })
}

interface ReceiveOptions {
  ack: boolean
  limit: number | undefined
  /** Messages still to print before listen ends (--count; infinite without it). */
  remaining: { messages: number }
  signal: AbortSignal
  /** Called once the gateway has accepted the credentials (resets the reconnect backoff). */
  connected(): void
}

async function pollInbox(io: CommandIo, client: MechaClient, options: ReceiveOptions): Promise<void> {
  while (!options.signal.aborted && options.remaining.messages > 0) {
    // Never fetch more than --count still allows: fetched but unprinted messages would wait out the visibility timeout.
    const limit = Number.isFinite(options.remaining.messages) ? Math.min(options.limit ?? MAX_POLL_LIMIT, options.remaining.messages) : options.limit
    const messages = await client.inbox({ wait: POLL_WAIT_SECONDS, ...(limit !== undefined ? { limit } : {}) }, { signal: options.signal })
    options.connected()
    for (const message of messages) printMessage(io, message)
    options.remaining.messages -= messages.length
    // Not abortable: what was printed is acknowledged even when the stop comes in between.
    if (options.ack && messages.length > 0) await client.ack(messages.map((m) => m.id))
  }
}

async function readSocket(io: CommandIo, client: MechaClient, options: ReceiveOptions): Promise<void> {
  // Once open, the SDK reconnects by itself (fresh credentials each time) for as long as listen runs.
  // A reconnect at the gateway's maximum connection age is routine and silent; a lost one is reported.
  const connection: MechaConnection = client.connect({
    reconnect: { maxAttempts: Number.POSITIVE_INFINITY, maxDelayMs: MAX_BACKOFF_MS },
    onReconnecting: ({ delayMs, cause }) => {
      if (cause.reason !== REAUTHENTICATE) io.stderr.write(`warning: ${cause.message}; reconnecting in ${(delayMs / 1000).toFixed(1)} s\n`)
    },
  })
  // A stop closes the connection while it waits; a message being handled is acknowledged first.
  let handling = false
  const onStop = (): void => {
    if (!handling) connection.close()
  }
  options.signal.addEventListener('abort', onStop, { once: true })
  try {
    if (options.signal.aborted || options.remaining.messages <= 0) return
    await connection.ready
    options.connected()
    for await (const message of connection) {
      handling = true
      printMessage(io, message)
      if (options.ack) await message.ack()
      handling = false
      options.remaining.messages -= 1
      if (options.signal.aborted || options.remaining.messages <= 0) break
    }
  } finally {
    options.signal.removeEventListener('abort', onStop)
    connection.close()
  }
}

function printMessage(io: CommandIo, message: Message): void {
  // One JSON line: JSON.stringify escapes control characters, so a payload cannot drive the terminal.
  io.stdout.write(`${JSON.stringify(message)}\n`)
}

async function retryWhileUnavailable(io: CommandIo, signal: AbortSignal, receive: (connected: () => void) => Promise<void>): Promise<void> {
  let backoffMs = 1000
  for (;;) {
    try {
      await receive(() => { backoffMs = 1000 })
      return
    } catch (err) {
      if (signal.aborted || !(err instanceof MechaError) || err.code !== 'UNAVAILABLE') throw err
      io.stderr.write(`warning: ${describeMechaError(err)}; retrying in ${backoffMs / 1000} s\n`)
      await sleep(backoffMs, signal)
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS)
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}

function stopSignal(io: RuntimeIo): { signal: AbortSignal; dispose(): void } {
  if (io.signal !== undefined) return { signal: io.signal, dispose: () => undefined }
  const controller = new AbortController()
  const stop = (): void => controller.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    },
  }
}




function renderWhoami(me: WhoAmI): string {
  const verifiedBy = [me.verified_by.token ? 'token' : undefined, me.verified_by.signature ?? undefined].filter((v) => v !== undefined).join(' + ')
  const skew = Math.round(Date.now() / 1000 - me.server_time)
  return renderFields([
    ['mecha', me.mecha],
    ['key id', me.key_id],
    ['verified by', verifiedBy],
    ['recipients', formatList(me.permissions.recipients)],
    ['kinds', formatList(me.permissions.kinds)],
    ['max message bytes', String(me.permissions.max_message_bytes)],
    ['sessions', renderSessionPermissions(me.permissions.sessions)],
    ['signature', me.signature.algorithms.length === 0 ? 'none' : `${me.signature.algorithms.join(', ')} (${me.signature.required ? 'required' : 'optional'})`],
    ['rate limit', me.rate_limit === null ? 'none' : `${me.rate_limit.requests} requests per ${me.rate_limit.per_seconds} s`],
    ['expires', formatTime(me.expires_at, 'never')],
    ['server time', `${formatTime(new Date(me.server_time * 1000).toISOString())} (local clock ${skew >= 0 ? '+' : ''}${skew} s)`],
  ])
}

function renderSessionPermissions(sessions: WhoAmI['permissions']['sessions']): string {
  const start = sessions.can_start
    ? `may start in ${formatList(sessions.modes)}${sessions.max_open === null ? '' : ` (at most ${sessions.max_open} open)`}`
    : 'may not start'
  return `${start}; ${sessions.can_manage_modes ? 'may' : 'may not'} manage modes`
}
