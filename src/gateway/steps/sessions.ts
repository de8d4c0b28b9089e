import type { ModeRegistry } from '../../control-plane/modes.js'
import { Problem } from '../../errors/problem.js'
import { matchesAny } from '../../permissions/glob.js'
import { MAX_SESSION_PARTICIPANTS } from '../../sessions/types.js'
import { sessionPermissions } from '../../permissions/sessions.js'
import { isOpen, sessionView, type SessionService } from '../../sessions/service.js'
import type { SessionRecord } from '../../sessions/types.js'
import type { RecordCache } from '../record-cache.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/** What the session steps use: the service, the mode registry (read) and the mecha records. */
export interface SessionDeps {
  sessions: SessionService
}

interface StartBody {
  mode: string
  participants: string[]
  intent?: string
  ttl_seconds: number
}

function startBody(ctx: GatewayContext): StartBody {
  return ctx.request.json as StartBody
}

function sessionIdParam(ctx: GatewayContext): string {
  const id = ctx.request.params?.id
  if (typeof id !== 'string') throw new Error('session route reached without an id parameter')
  return id
}

/** The participants besides the caller (whom the session always includes). */
function others(ctx: GatewayContext, participants: readonly string[]): string[] {
  const self = required(ctx.key, 'key').mecha
  return [...new Set(participants)].filter((p) => p !== self)
}

/**
 * POST /v1/sessions, before any lookup: the key may start sessions, in this mode, with these
 * participants (each one an allowed recipient: the session notifies them, and its messages go to them).
 */
export function checkSessionPermission(ctx: GatewayContext): StepResult {
  const key = required(ctx.key, 'key')
  const allowed = sessionPermissions(key.permissions)
  const body = startBody(ctx)
  if (!allowed.can_start) return new Problem('cannot_start_sessions', 'this key may not start sessions (permissions.sessions.can_start is false)')
  if (!matchesAny(allowed.modes, body.mode)) return new Problem('mode_not_allowed', `this key may not start sessions in mode ${body.mode}`)
  const participants = others(ctx, body.participants)
  if (participants.length === 0) return new Problem('invalid_request', 'a session needs at least one participant besides the caller')
  // The schema bounds the list; the caller, added when absent, counts too.
  if (participants.length + 1 > MAX_SESSION_PARTICIPANTS) return new Problem('invalid_request', `a session has at most ${MAX_SESSION_PARTICIPANTS} participants, the caller included`)
  for (const participant of participants) {
    if (!matchesAny(key.permissions.recipients, participant)) return new Problem('recipient_not_allowed', `this key may not send to ${participant}`)
  }
  return undefined
}

/** POST /v1/sessions: the mode is registered, and every participant is an active mecha that accepts `session.*` notifications. */
export async function lookupSessionParts(ctx: GatewayContext, deps: { modes: ModeRegistry; records: RecordCache }): Promise<StepResult> {
  const body = startBody(ctx)
  let mode
  try {
    mode = await deps.modes.get(body.mode)
  } catch (err) {
    if (err instanceof Problem) return err
    throw err
  }
  // The initiator too: every participant is sent the session's notifications.
  for (const participant of [required(ctx.key, 'key').mecha, ...others(ctx, body.participants)]) {
    const mecha = await deps.records.getMecha(participant)
    if (mecha === undefined || mecha.status !== 'active') return new Problem('unknown_recipient', `no active mecha ${participant}`)
    if (!matchesAny(mecha.accepts, 'session.started')) return new Problem('kind_not_allowed', `${participant} does not accept session notifications (kinds session.*)`)
  }
  ctx.sessionMode = mode
  return undefined
}

/** POST /v1/sessions: start it (counted against max_open atomically) and notify every participant. */
export async function startSession(ctx: GatewayContext, deps: SessionDeps): Promise<StepResult> {
  const key = required(ctx.key, 'key')
  const body = startBody(ctx)
  const mode = required(ctx.sessionMode, 'session mode')
  const maxOpen = sessionPermissions(key.permissions).max_open
  const started = await deps.sessions.start(
    { mecha: key.mecha, keyId: key.id, maxOpen },
    { mode, participants: body.participants, intent: body.intent ?? null, ttlSeconds: body.ttl_seconds },
    ctx.now,
  )
  if (started.outcome === 'too_many_open') {
    // The earliest of the key's open sessions expires then, at the latest: a slot is free by then.
    const retryAfter = Math.max(1, Math.ceil((started.earliestExpiresAt - ctx.now) / 1000))
    return new Problem('too_many_open_sessions', `this key has ${started.open} open sessions; permissions.sessions.max_open allows ${String(maxOpen)}`,
      { headers: { 'retry-after': String(retryAfter) } })
  }
  ctx.response = { status: 201, body: started.session, headers: { location: `/v1/sessions/${started.session.id}` } }
  return undefined
}

interface SessionMessageBody {
  session?: string
  to?: string
  kind: string
}

/**
 * POST /v1/messages with `session`: the session exists and the sender takes part, it is open, the
 * kind is one of its kinds, and `to` (when given) takes part. Sets the deliveries: `to`, or every other
 * participant. Without `session`: the one recipient, nothing read.
 */
export function checkSessionMembership(ctx: GatewayContext, deps: SessionDeps): StepResult | Promise<StepResult> {
  const body = ctx.request.json as SessionMessageBody
  // Most messages are outside sessions: no read, no promise (the send path stays synchronous here).
  if (body.session === undefined) return undefined
  return checkMembership(ctx, deps, body, body.session)
}

async function checkMembership(ctx: GatewayContext, deps: SessionDeps, body: SessionMessageBody, id: string): Promise<StepResult> {
  const self = required(ctx.key, 'key').mecha
  const record = await deps.sessions.store.get(id)
  if (record === undefined) return new Problem('unknown_session', `no session ${id}`)
  if (!record.participants.includes(self)) return new Problem('not_a_participant', `${self} is not a participant of ${record.id}`)
  if (!isOpen(record, ctx.now)) return new Problem('session_closed', `${record.id} is ${sessionView(record, ctx.now).state}: it takes no more messages`)
  if (!record.kinds.includes(body.kind)) return new Problem('kind_not_in_mode', `kind ${body.kind} is not one of ${record.id}'s kinds (${record.kinds.join(', ')})`)
  if (body.to !== undefined && !record.participants.includes(body.to)) return new Problem('not_a_participant', `the recipient ${body.to} is not a participant of ${record.id}`)
  ctx.session = record
  ctx.deliveries = body.to !== undefined ? [body.to] : record.participants.filter((p) => p !== self)
  return undefined
}

/** The recipients a message goes to: the session's deliveries, or the body's `to`. */
export function deliveriesOf(ctx: GatewayContext): readonly string[] {
  return ctx.deliveries ?? [(ctx.request.json as { to: string }).to]
}

function visibleTo(record: SessionRecord | undefined, mecha: string): record is SessionRecord {
  return record !== undefined && record.participants.includes(mecha)
}

/** GET /v1/sessions/{id}: participants only; anyone else is told there is no such session. */
export async function getSession(ctx: GatewayContext, deps: SessionDeps): Promise<StepResult> {
  const id = sessionIdParam(ctx)
  const record = await deps.sessions.store.get(id)
  if (!visibleTo(record, required(ctx.key, 'key').mecha)) return new Problem('unknown_session', `no session ${id} that this mecha takes part in`)
  ctx.response = { status: 200, body: sessionView(record, ctx.now) }
  return undefined
}

/** GET /v1/sessions: the caller's sessions, newest first, filtered by state. */
export async function listSessions(ctx: GatewayContext, deps: SessionDeps): Promise<StepResult> {
  const { state, limit, after } = ctx.request.queryParams as { state: 'open' | 'closed' | 'all'; limit: number; after?: string }
  const page = await deps.sessions.store.listFor(required(ctx.key, 'key').mecha, { limit, ...(after !== undefined ? { after } : {}) })
  const views = page.map((r) => sessionView(r, ctx.now)).filter((v) => state === 'all' || (state === 'open') === (v.state === 'open'))
  ctx.response = { status: 200, body: { sessions: views, next: page.length === limit ? (page[page.length - 1] as SessionRecord).id : null } }
  return undefined
}

/** POST /v1/sessions/{id}/commit: the initiator only; participants are told. */
export function commitSession(ctx: GatewayContext, deps: SessionDeps): Promise<StepResult> {
  return closeSession(ctx, deps, true)
}

/** POST /v1/sessions/{id}/cancel: the initiator only; participants are told. */
export function cancelSession(ctx: GatewayContext, deps: SessionDeps): Promise<StepResult> {
  return closeSession(ctx, deps, false)
}

async function closeSession(ctx: GatewayContext, deps: SessionDeps, committing: boolean): Promise<StepResult> {
  const id = sessionIdParam(ctx)
  const body = (ctx.request.json ?? {}) as { outcome?: unknown; reason?: string }
  const closed = await deps.sessions.close(id, required(ctx.key, 'key').mecha, {
    state: committing ? 'committed' : 'cancelled', outcome: committing ? body.outcome ?? null : null, reason: body.reason ?? null,
  }, ctx.now)
  switch (closed.outcome) {
    case 'missing':
      return new Problem('unknown_session', `no session ${id} that this mecha takes part in`)
    case 'not_initiator':
      return new Problem('not_session_initiator', `only ${id}'s initiator may ${committing ? 'commit' : 'cancel'} it`)
    case 'closed_already':
      return new Problem('session_closed', `${id} is already ${closed.session.state}`)
    case 'closed':
      ctx.response = { status: 200, body: closed.session }
      return undefined
  }
}
