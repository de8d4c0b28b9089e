import type { Reason } from '../errors/catalogue.js'
import type { AuditEvent } from '../model.js'
import type { AuthFailureGuard } from '../ratelimit/auth-failures.js'
import type { RateLimiter } from '../ratelimit/types.js'
import type { ReplayCache } from '../replay/types.js'
import type { KeyMaterial } from './key-material.js'
import type { RecordCache } from './record-cache.js'
import type { GatewayContext, RuntimeRoute, Step, StepResult } from './context.js'
import { admitAuthAttempt, authenticated } from './steps/auth-failure-throttle.js'
import { checkContentDigest } from './steps/check-content-digest.js'
import { checkDevSender } from './steps/dev-sender.js'
import { deferToFrame } from './steps/frame-handshake.js'
import { checkTimestamp } from './steps/check-timestamp.js'
import { checkProof } from './steps/check-proof.js'
import { claimNonce } from './steps/claim-nonce.js'
import { ackMessages, handOff, readInbox, reserveSocket, whoami, type HandOffDeps } from './steps/hand-off.js'
import { checkPermissions, checkRecipient, checkSender } from './steps/message-checks.js'
import { checkMessageIdentity } from './steps/message-identity.js'
import { checkMessageSchedule } from './steps/message-schedule.js'
import { extendMessages, listDeadLetters, nackMessages, purgeDeadLetters, redriveDeadLetters, rejectMessages } from './steps/inbox-lifecycle.js'
import { checkModePermission, putMode, type ModeDeps } from './steps/modes.js'
import {
  cancelSession, checkSessionMembership, checkSessionPermission, commitSession, getSession, listSessions, lookupSessionParts, startSession, type SessionDeps,
} from './steps/sessions.js'
import { parseCredentials } from './steps/parse-credentials.js'
import { checkRateLimit } from './steps/rate-limit.js'
import { checkBody, checkSchema } from './steps/request-shape.js'
import { requireSignature } from './steps/require-signature.js'
import { resolveKey } from './steps/resolve-key.js'
import { verifySignature } from './steps/verify-signature.js'
import { verifyToken } from './steps/verify-token.js'

/** What the verification steps need; built once per process (build.ts). */
export interface GatewayDeps {
  records: RecordCache
  material: KeyMaterial
  replayCache: ReplayCache
  windowSeconds: number
  /** How far ahead of server time a Mecha-Timestamp may be (MECHA_MAX_FUTURE_SKEW_SECONDS). */
  maxFutureSkewSeconds: number
  publicAuthority: string
  /** How long a nonce is remembered: past the window on both sides, plus a margin. */
  nonceTtlSeconds: number
  /** Counts each key's requests against its `rate_limit`. */
  rateLimiter: RateLimiter
  /** Failed authentications per client address; shared with operator authentication. */
  authFailures: AuthFailureGuard
  /** MECHA_ALLOW_DEV_SENDER_HEADER=1 (the configuration refuses it in production). */
  allowDevSender: boolean
  /** The largest body (a development sender may send messages up to it). */
  bodyLimitBytes: number
  /** Appends to the audit trail (a development sender's requests are audited as `dev_sender`). */
  audit(event: AuditEvent): Promise<void>
}

/** Everything a step may use: the verification deps and the route hand-offs' (the adapter adds the latter). */
export type PipelineDeps = GatewayDeps & HandOffDeps & ModeDeps & SessionDeps

/** The recipient's controls over its inbox and dead letters (issue 14). */
const INBOX_LIFECYCLE_ROUTES = ['nack', 'extend', 'reject', 'dead-letters', 'redrive', 'purge'] as const

/**
 * When a step runs:
 * - `headers`: onRequest, before the body is read;
 * - `body`: preValidation, once the raw body is there (signatures and Content-Digest need it);
 * - `route`: the route's own steps and its hand-off (a WebSocket's before the upgrade completes);
 * - `connection`: for the life of a WebSocket or a parked long-poll, on every change to its key or
 *   mecha, at the key's own deadlines, periodically, and before every WebSocket ack.
 */
export type Phase = 'headers' | 'body' | 'route' | 'connection'

export interface PipelineStep {
  readonly name: string
  readonly phase: Phase
  /** The routes that run it: every runtime route, or the ones listed. */
  readonly routes: 'all' | readonly RuntimeRoute[]
  /** What it checks, for people (docs/protocol.md, the MCP server and the well-known document show it). */
  readonly check: string
  /** The catalogue reasons it may refuse with. */
  readonly refusals: readonly Reason[]
  /** Once this step has passed, the request is authenticated: every refusal after it records the nonce. */
  readonly authenticates?: true
  /** A credential step: skipped for a Mecha-Dev-Sender request (development only). */
  readonly credential?: true
  /**
   * Once this step marks a request `frameHandshake`, the steps after it in the table do not run on
   * that request: they run on its WebSocket's authenticate frame, from the start of the table.
   */
  readonly defers?: true
  readonly run: Step<PipelineDeps>
}

const step = (s: PipelineStep): PipelineStep => s

/**
 * The order of checks of every runtime route, declared once. Cheap checks first; nothing about a key is
 * answered before its secret is proven; nothing is written until the credential verified; then the
 * nonce is recorded exactly once whatever follows. The Fastify hooks and handlers (plugin.ts) only run
 * this table; docs/protocol.md, the MCP server and the well-known document are checked against it
 * (test/discovery/order-of-checks.test.ts).
 */
export const PIPELINE: readonly PipelineStep[] = [
  step({ name: 'dev-sender', phase: 'headers', routes: 'all', run: checkDevSender,
    check: '`Mecha-Dev-Sender`, if sent: refused unless the server runs with MECHA_ALLOW_DEV_SENDER_HEADER=1 (development only); then the request acts as that active mecha and the credential steps are skipped',
    refusals: ['dev_sender_refused', 'malformed_credentials', 'invalid_key'] }),
  step({ name: 'frame-handshake', phase: 'headers', routes: ['connect'], run: deferToFrame, defers: true,
    check: 'A WebSocket upgrade offering the `mecha.frame-auth` subprotocol, with no credential headers, is admitted against the address\'s failed-authentication budget (an unauthenticated attempt until its authenticate frame, at most MECHA_WS_AUTH_TIMEOUT_SECONDS); the steps below then run on that frame, from step 0, instead of on the upgrade',
    refusals: ['malformed_credentials', 'rate_limited'] }),
  step({ name: 'credentials', phase: 'headers', routes: 'all', run: parseCredentials, credential: true,
    check: 'Headers parse (token format and checksum, signature syntax, timestamp, nonce, no duplicates; on a WebSocket authenticated in its first frame, the authenticate frame\'s fields stand for these headers); no lookup, no I/O',
    refusals: ['missing_credentials', 'malformed_credentials'] }),
  step({ name: 'auth-failure-throttle', credential: true, phase: 'headers', routes: 'all', run: admitAuthAttempt,
    check: 'The client address is within its failed-authentication budget (failures and unauthenticated requests in flight), or the key authenticated from it in the last 24 hours (no I/O)',
    refusals: ['rate_limited'] }),
  step({ name: 'timestamp', credential: true, phase: 'headers', routes: 'all', run: checkTimestamp,
    check: '`Mecha-Timestamp` at most the window in the past and the future skew ahead of server time (needs no key)',
    refusals: ['stale_timestamp'] }),
  step({ name: 'key', credential: true, phase: 'headers', routes: 'all', run: resolveKey,
    check: 'The key exists, is not revoked or expired, and its mecha is active; with a signature alone the refusal waits for the signature step and is `bad_signature`',
    refusals: ['invalid_key'] }),
  step({ name: 'token', credential: true, phase: 'headers', routes: 'all', run: verifyToken,
    check: 'The token\'s secret matches a live generation (constant time)',
    refusals: ['invalid_key'] }),
  step({ name: 'signature-required', credential: true, phase: 'headers', routes: 'all', run: requireSignature,
    check: 'The key\'s policy requires a signature (answered only once the token has proven the secret)',
    refusals: ['signature_required'] }),
  step({ name: 'content-digest', credential: true, phase: 'body', routes: 'all', run: checkContentDigest,
    check: 'Content-Digest, whenever sent: every sha-256 and sha-512 member matches the raw body bytes; a signed request with a body needs a sha-256 member',
    refusals: ['malformed_credentials', 'bad_digest'] }),
  step({ name: 'signature', credential: true, phase: 'body', routes: 'all', run: verifySignature,
    check: 'The signature: components and parameters, then the key: algorithm registered and the cryptographic check, one answer for all',
    refusals: ['malformed_credentials', 'stale_timestamp', 'bad_signature'] }),
  step({ name: 'authenticated', phase: 'body', routes: 'all', run: authenticated, authenticates: true,
    check: 'Every presented credential verified: the request is authenticated, and the key is remembered as known-good for this address',
    refusals: [] }),
  step({ name: 'nonce', phase: 'body', routes: ['inbox', 'ack', 'whoami', 'connect', 'put-mode', 'start-session', 'list-sessions', 'get-session', 'commit-session', 'cancel-session', ...INBOX_LIFECYCLE_ROUTES], run: claimNonce,
    check: 'The nonce is recorded in the replay cache (on POST /v1/messages, by the hand-off, atomically with the message)',
    refusals: ['replayed_nonce', 'stale_timestamp', 'replay_cache_unavailable'] }),
  step({ name: 'body', phase: 'route', routes: 'all', run: checkBody,
    check: 'The body is JSON (`application/json`) nesting at most the documented depth',
    refusals: ['unsupported_media_type', 'malformed_json', 'payload_too_deep', 'invalid_request'] }),
  step({ name: 'message-identity', phase: 'route', routes: ['send'], run: checkMessageIdentity,
    check: 'No body field `id` (the gateway assigns message ids); `Idempotency-Key`, when sent, once and well-formed',
    refusals: ['invalid_request'] }),
  step({ name: 'schema', phase: 'route', routes: 'all', run: checkSchema,
    check: 'The body and query match the route\'s JSON Schema',
    refusals: ['invalid_request', 'invalid_id'] }),
  step({ name: 'schedule', phase: 'route', routes: ['send'], run: checkMessageSchedule,
    check: '`deliver_after`, when sent, at most 7 days ahead of server time',
    refusals: ['invalid_request'] }),
  step({ name: 'sender', phase: 'route', routes: ['send'], run: checkSender,
    check: '`from`, when present, equals the key\'s mecha',
    refusals: ['sender_mismatch'] }),
  step({ name: 'session-membership', phase: 'route', routes: ['send'], run: checkSessionMembership,
    check: 'With `session`: the session exists and the sender takes part, it is open (not committed, cancelled or past its expiry), the kind is one of its kinds, and `to`, when given, takes part; the message then goes to `to`, or to every other participant',
    refusals: ['unknown_session', 'not_a_participant', 'session_closed', 'kind_not_in_mode'] }),
  step({ name: 'permissions', phase: 'route', routes: ['send'], run: checkPermissions,
    check: 'The key\'s permissions: each recipient, the kind, the size (before any recipient is looked up)',
    refusals: ['recipient_not_allowed', 'kind_not_allowed', 'message_too_large'] }),
  step({ name: 'mode-permission', phase: 'route', routes: ['put-mode'], run: checkModePermission,
    check: 'The key may change session modes: `permissions.sessions.can_manage_modes`',
    refusals: ['cannot_manage_modes'] }),
  step({ name: 'session-permission', phase: 'route', routes: ['start-session'], run: checkSessionPermission,
    check: 'The key may start sessions (`permissions.sessions.can_start`), in this mode (`permissions.sessions.modes`), with participants it may send to (`permissions.recipients`), at least one besides itself and at most 32 in all',
    refusals: ['cannot_start_sessions', 'mode_not_allowed', 'invalid_request', 'recipient_not_allowed'] }),
  step({ name: 'recipient', phase: 'route', routes: ['send'], run: checkRecipient,
    check: 'Each recipient is an active registered mecha that accepts the kind',
    refusals: ['unknown_recipient', 'kind_not_allowed'] }),
  step({ name: 'session-lookup', phase: 'route', routes: ['start-session'], run: lookupSessionParts,
    check: 'The mode is registered; each participant is an active registered mecha that accepts `session.*` notifications',
    refusals: ['unknown_mode', 'unknown_recipient', 'kind_not_allowed'] }),
  step({ name: 'rate-limit', phase: 'route', routes: 'all', run: checkRateLimit,
    check: 'The key\'s rate limit, when it has one',
    refusals: ['rate_limited'] }),
  step({ name: 'hand-off', phase: 'route', routes: ['send'], run: handOff,
    check: 'Hand-off to the transport, which records the nonce and stores the message in one atomic operation; a retry with the same Idempotency-Key and the same request gets the original acceptance, another request with that key is refused; then the inbox\'s message and byte budgets, and the sender\'s share of them. Before all of it, the storage high-water mark (MECHA_STORAGE_HIGH_WATER): a store near full refuses new messages and records nothing, not even the nonce',
    refusals: ['storage_full', 'replayed_nonce', 'stale_timestamp', 'idempotency_key_reused', 'inbox_full', 'sender_share_exceeded', 'transport_unavailable'] }),
  step({ name: 'put-mode', phase: 'route', routes: ['put-mode'], run: putMode,
    check: 'Create or replace the mode (a compare-and-set on its revision, stored with its `mode.put` audit event naming the key)',
    refusals: ['concurrent_update'] }),
  step({ name: 'start-session', phase: 'route', routes: ['start-session'], run: startSession,
    check: 'Start the session, counted against the key\'s `permissions.sessions.max_open` atomically across every instance; every participant, the initiator included, is sent `session.started`',
    refusals: ['too_many_open_sessions', 'transport_unavailable'] }),
  step({ name: 'commit-session', phase: 'route', routes: ['commit-session'], run: commitSession,
    check: 'Commit: a participant that is not the initiator is refused, anyone else told there is no such session; an open session only; every participant is sent `session.committed`',
    refusals: ['unknown_session', 'not_session_initiator', 'session_closed', 'transport_unavailable'] }),
  step({ name: 'cancel-session', phase: 'route', routes: ['cancel-session'], run: cancelSession,
    check: 'Cancel: a participant that is not the initiator is refused, anyone else told there is no such session; an open session only; every participant is sent `session.cancelled`',
    refusals: ['unknown_session', 'not_session_initiator', 'session_closed', 'transport_unavailable'] }),
  step({ name: 'get-session', phase: 'route', routes: ['get-session'], run: getSession,
    check: 'Read the session: its participants only (anyone else: no such session)',
    refusals: ['unknown_session'] }),
  step({ name: 'list-sessions', phase: 'route', routes: ['list-sessions'], run: listSessions,
    check: 'List the sessions the caller\'s mecha takes part in, newest first',
    refusals: [] }),
  step({ name: 'read', phase: 'route', routes: ['inbox'], run: readInbox,
    check: 'Read the inbox; while waiting, the connection steps below run, and a refusal ends the wait (nothing is read after it)',
    refusals: ['invalid_key', 'signature_required', 'bad_signature', 'transport_unavailable'] }),
  step({ name: 'ack', phase: 'route', routes: ['ack'], run: ackMessages,
    check: 'Acknowledge delivered messages of the caller\'s own inbox',
    refusals: ['transport_unavailable'] }),
  step({ name: 'nack', phase: 'route', routes: ['nack'], run: nackMessages,
    check: 'Deliver delivered messages of the caller\'s own inbox again after the delay (default: its backoff)',
    refusals: ['transport_unavailable'] }),
  step({ name: 'extend', phase: 'route', routes: ['extend'], run: extendMessages,
    check: 'Keep delivered messages of the caller\'s own inbox invisible longer (at most 12 hours after their delivery)',
    refusals: ['transport_unavailable'] }),
  step({ name: 'reject', phase: 'route', routes: ['reject'], run: rejectMessages,
    check: 'Move delivered messages of the caller\'s own inbox to its dead letters now (reason `rejected`); their senders get a `mecha.delivery.failed` receipt',
    refusals: ['transport_unavailable'] }),
  step({ name: 'dead-letters', phase: 'route', routes: ['dead-letters'], run: listDeadLetters,
    check: 'List the caller\'s own dead letters (reason, deliveries, when), by message id',
    refusals: ['transport_unavailable'] }),
  step({ name: 'redrive', phase: 'route', routes: ['redrive'], run: redriveDeadLetters,
    check: 'Move dead letters of the caller\'s own back to its inbox: same id, delivery count afresh',
    refusals: ['transport_unavailable'] }),
  step({ name: 'purge', phase: 'route', routes: ['purge'], run: purgeDeadLetters,
    check: 'Remove dead letters of the caller\'s own (their bytes go back to the inbox budget)',
    refusals: ['transport_unavailable'] }),
  step({ name: 'whoami', phase: 'route', routes: ['whoami'], run: whoami,
    check: 'Answer who the key is',
    refusals: [] }),
  step({ name: 'upgrade', phase: 'route', routes: ['connect'], run: reserveSocket,
    check: 'A WebSocket upgrade, within the key\'s open sockets on this instance (MECHA_WS_MAX_PER_KEY)',
    refusals: ['upgrade_required', 'rate_limited'] }),
  step({ name: 'authorization-holds', phase: 'connection', routes: ['inbox', 'connect'], run: checkProof,
    check: 'For an open connection: the key still live, the token generation, algorithm and public key it proved itself with still registered, the signature policy still met',
    refusals: ['invalid_key', 'signature_required', 'bad_signature'] }),
]

/**
 * The steps one route runs in one phase, in table order. With the development sender header allowed,
 * the credential steps pass over a request that uses it (without the flag nothing is wrapped).
 */
export function stepsFor(route: RuntimeRoute, phase: Phase, options: { allowDevSender?: boolean } = {}): readonly Step<PipelineDeps>[] {
  const runs = (s: PipelineStep): boolean => s.routes === 'all' || s.routes.includes(route)
  const deferringAt = PIPELINE.findIndex((s) => s.defers === true && runs(s))
  return PIPELINE.flatMap((s, index) => (s.phase === phase && runs(s) ? [{ s, index }] : [])).map(({ s, index }) => {
    let run = s.credential === true && options.allowDevSender === true ? unlessDevSender(s.run) : s.run
    if (s.authenticates === true) run = authenticating(run)
    return deferringAt !== -1 && index > deferringAt && phase !== 'connection' ? unlessDeferred(run) : run
  })
}

function unlessDevSender(run: Step<PipelineDeps>): Step<PipelineDeps> {
  return (ctx, deps) => (ctx.devSender !== undefined ? undefined : run(ctx, deps))
}

/** A step that does not run on an upgrade whose credentials come in its first frame (it runs on that frame). */
function unlessDeferred(run: Step<PipelineDeps>): Step<PipelineDeps> {
  return (ctx, deps) => (ctx.frameHandshake === true ? undefined : run(ctx, deps))
}

/** A step that, once passed, marks the request authenticated (from then on the nonce rule applies). */
function authenticating(run: Step<PipelineDeps>): Step<PipelineDeps> {
  const mark = (ctx: GatewayContext, problem: StepResult): StepResult => {
    if (problem === undefined) ctx.authenticated = true
    return problem
  }
  return (ctx, deps) => {
    const result = run(ctx, deps)
    return result instanceof Promise ? result.then((p) => mark(ctx, p)) : mark(ctx, result)
  }
}

/**
 * The credential steps every runtime route runs before anything is recorded (headers, then body
 * phase), as one list: the in-process micro-benchmark and the signature fuzzer drive exactly these.
 */
export const VERIFICATION_STEPS: readonly Step<PipelineDeps>[] = PIPELINE.filter((s) => (s.phase === 'headers' || s.phase === 'body') && s.routes === 'all').map((s) => s.run)

/**
 * A fresh context for a request (the adapter's, the benchmark's and the fuzzer's). Every field the
 * steps may set is there from the start, undefined: the object keeps one shape for its life, instead
 * of growing (and reallocating) its property store as each step adds a field.
 */
export function newContext(request: GatewayContext['request'], route: RuntimeRoute, now: number): GatewayContext {
  // Every field, so that the object keeps one shape; the type makes a new field impossible to forget here.
  const ctx: { [K in keyof Required<GatewayContext>]: GatewayContext[K] } = {
    request, route, now, proof: {}, authenticated: false, nonceClaimed: false,
    credentials: undefined, timestamp: undefined, nonce: undefined, key: undefined, mecha: undefined, contentDigestChecked: undefined,
    authAttempt: undefined, verifiedBy: undefined, keyRefusal: undefined, devSender: undefined, frameHandshake: undefined,
    idempotencyKey: undefined, session: undefined, deliveries: undefined, sessionMode: undefined, response: undefined,
  }
  return ctx
}

/** The connection re-check (ConnectionAuthorization). */
export const CONNECTION_STEPS: readonly Step<PipelineDeps>[] = PIPELINE.filter((s) => s.phase === 'connection').map((s) => s.run)

/**
 * Runs the steps in order; the first refusal ends the run. Synchronous while the steps are (the
 * steady state: key records cached), so the hot path allocates no promise; a step that returns a
 * promise (a store read) continues the run when it settles.
 */
export function runSteps<D>(steps: readonly Step<D>[], ctx: GatewayContext, deps: D, from = 0): StepResult | Promise<StepResult> {
  for (let i = from; i < steps.length; i++) {
    const problem = (steps[i] as Step<D>)(ctx, deps)
    if (problem instanceof Promise) return problem.then((p) => p ?? runSteps(steps, ctx, deps, i + 1))
    if (problem !== undefined) return problem
  }
  return undefined
}

