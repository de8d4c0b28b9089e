import type { SessionView } from '../../client/index.js'
import { UsageError, expectPositionals, parseList, parseWholeNumber } from '../args.js'
import { printJson, printUsage } from '../command.js'
import { formatList, formatTime, orDash, renderFields, renderTable } from '../format.js'
import { RUNTIME_OPTIONS, parseRuntime, readPayload, runRuntime, runtimeClient, sdk, type RuntimeIo } from '../runtime-client.js'
import { USAGE } from '../usage.js'

const START_OPTIONS = {
  ...RUNTIME_OPTIONS,
  mode: { type: 'string' },
  participant: { type: 'string', multiple: true },
  intent: { type: 'string' },
  ttl: { type: 'string' },
  json: { type: 'boolean' },
} as const
const LIST_OPTIONS = { ...RUNTIME_OPTIONS, state: { type: 'string' }, limit: { type: 'string' }, after: { type: 'string' }, json: { type: 'boolean' } } as const
const SHOW_OPTIONS = { ...RUNTIME_OPTIONS, json: { type: 'boolean' } } as const
const COMMIT_OPTIONS = { ...RUNTIME_OPTIONS, outcome: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' } } as const
const SEND_OPTIONS = {
  ...RUNTIME_OPTIONS,
  to: { type: 'string' },
  payload: { type: 'string' },
  'payload-file': { type: 'string' },
  'reply-to': { type: 'string' },
  'idempotency-key': { type: 'string' },
  json: { type: 'boolean' },
} as const
const CANCEL_OPTIONS = { ...RUNTIME_OPTIONS, reason: { type: 'string' }, json: { type: 'boolean' } } as const
const STATES = ['open', 'closed', 'all'] as const

/** `mecharim sessions start --mode M --participant ID... --ttl S`: start a session, the key's mecha its initiator. */
export function sessionsStart(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.sessionsStart, async () => {
    const { values, positionals } = parseRuntime(io.argv, START_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.sessionsStart)
    expectPositionals(positionals, [])
    if (values.mode === undefined) throw new UsageError('--mode M is required')
    const participants = (values.participant ?? []).flatMap((raw) => parseList('participant', raw))
    if (participants.length === 0) throw new UsageError('give at least one --participant (the mechas besides you)')
    if (values.ttl === undefined) throw new UsageError('--ttl SECONDS is required')
    const ttlSeconds = parseWholeNumber('ttl', values.ttl)
    const client = await runtimeClient(io, values)
    const session = await sdk(() => client.startSession({ mode: values.mode as string, participants, ttlSeconds, ...(values.intent !== undefined ? { intent: values.intent } : {}) }))
    const view = session.view as SessionView
    if (values.json === true) return printJson(io, view)
    io.stdout.write(`Started session ${view.id} (mode ${view.mode}); every participant was sent session.started.\n\n${renderSession(view)}`)
    return 0
  })
}

/** `mecharim sessions list`: the sessions the key's mecha takes part in, newest first. */
export function sessionsList(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.sessionsList, async () => {
    const { values, positionals } = parseRuntime(io.argv, LIST_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.sessionsList)
    expectPositionals(positionals, [])
    const state = values.state === undefined ? undefined : STATES.find((s) => s === values.state)
    if (values.state !== undefined && state === undefined) throw new UsageError(`--state expects one of ${STATES.join(', ')}, got ${JSON.stringify(values.state)}`)
    const limit = values.limit === undefined ? undefined : parseWholeNumber('limit', values.limit)
    const client = await runtimeClient(io, values)
    const page = await sdk(() => client.sessions({
      ...(state !== undefined ? { state } : {}), ...(limit !== undefined ? { limit } : {}), ...(values.after !== undefined ? { after: values.after } : {}),
    }))
    if (values.json === true) return printJson(io, page)
    io.stdout.write(page.sessions.length === 0 ? 'No sessions.\n' : renderTable(
      ['ID', 'MODE', 'STATE', 'INITIATOR', 'PARTICIPANTS', 'EXPIRES'],
      page.sessions.map((s) => [s.id, s.mode, s.state, s.initiator, formatList(s.participants), formatTime(s.expires_at)]),
    ))
    // On stderr so stdout stays just the table; the same filters, one page further.
    if (page.next !== null) {
      const filters = [state !== undefined ? `--state ${state}` : '', limit !== undefined ? `--limit ${limit}` : ''].filter((f) => f !== '').join(' ')
      io.stderr.write(`More: mecharim sessions list ${filters === '' ? '' : `${filters} `}--after ${page.next}\n`)
    }
    return 0
  })
}

/** `mecharim sessions show ID`: one session the key's mecha takes part in. */
export function sessionsShow(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.sessionsShow, async () => {
    const { values, positionals } = parseRuntime(io.argv, SHOW_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.sessionsShow)
    const [id] = expectPositionals(positionals, ['id'])
    const client = await runtimeClient(io, values)
    const view = await sdk(async () => client.getSession(id))
    if (values.json === true) return printJson(io, view)
    io.stdout.write(renderSession(view))
    return 0
  })
}

/** `mecharim sessions send ID KIND`: a message within the session, to one participant (--to) or to every other one. */
export function sessionsSend(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.sessionsSend, async () => {
    const { values, positionals } = parseRuntime(io.argv, SEND_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.sessionsSend)
    const [id, kind] = expectPositionals(positionals, ['id', 'kind'])
    const payload = await readPayload(values.payload, values['payload-file'])
    const client = await runtimeClient(io, values)
    const accepted = await sdk(async () => client.session(id).send({
      kind, payload,
      ...(values.to !== undefined ? { to: values.to } : {}),
      ...(values['reply-to'] !== undefined ? { replyTo: values['reply-to'] } : {}),
      ...(values['idempotency-key'] !== undefined ? { idempotencyKey: values['idempotency-key'] } : {}),
    }))
    if (values.json === true) return printJson(io, accepted)
    const deliveries = 'messages' in accepted ? accepted.messages : [{ id: accepted.id, to: accepted.to }]
    io.stdout.write(`Accepted ${accepted.kind} from ${accepted.from} in session ${accepted.session}: ${deliveries.map((m) => `${m.id} to ${m.to}`).join(', ')}.\n`)
    return 0
  })
}

/** `mecharim sessions commit ID --outcome JSON`: close the session with an outcome (the initiator only). */
export function sessionsCommit(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.sessionsCommit, async () => {
    const { values, positionals } = parseRuntime(io.argv, COMMIT_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.sessionsCommit)
    const [id] = expectPositionals(positionals, ['id'])
    if (values.outcome === undefined) throw new UsageError('--outcome JSON is required (e.g. --outcome \'"approved"\')')
    const outcome = parseJsonFlag('outcome', values.outcome)
    const client = await runtimeClient(io, values)
    const view = await sdk(async () => client.session(id).commit({ outcome, ...(values.reason !== undefined ? { reason: values.reason } : {}) }))
    if (values.json === true) return printJson(io, view)
    io.stdout.write(`Committed session ${view.id}; every participant was sent session.committed.\n\n${renderSession(view)}`)
    return 0
  })
}

/** `mecharim sessions cancel ID`: close the session without an outcome (the initiator only). */
export function sessionsCancel(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.sessionsCancel, async () => {
    const { values, positionals } = parseRuntime(io.argv, CANCEL_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.sessionsCancel)
    const [id] = expectPositionals(positionals, ['id'])
    const client = await runtimeClient(io, values)
    const view = await sdk(async () => client.session(id).cancel(values.reason !== undefined ? { reason: values.reason } : {}))
    if (values.json === true) return printJson(io, view)
    io.stdout.write(`Cancelled session ${view.id}; every participant was sent session.cancelled.\n\n${renderSession(view)}`)
    return 0
  })
}

function parseJsonFlag(flag: string, raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown
  } catch (err) {
    throw new UsageError(`--${flag} is not JSON (${err instanceof Error ? err.message : 'unparseable'}); quote a string as '"text"'`)
  }
}

function renderSession(view: SessionView): string {
  return renderFields([
    ['id', view.id],
    ['mode', view.mode],
    ['state', view.state],
    ['initiator', view.initiator],
    ['participants', formatList(view.participants)],
    ['kinds', formatList(view.kinds)],
    ['intent', orDash(view.intent)],
    ['outcome', view.outcome === null ? '-' : JSON.stringify(view.outcome)],
    ['reason', orDash(view.reason)],
    ['created', formatTime(view.created_at)],
    ['expires', formatTime(view.expires_at)],
    ['closed', formatTime(view.closed_at)],
  ])
}
