import { CATALOGUE, type Reason } from '../../errors/catalogue.js'
import type { RuntimeRoute } from '../../gateway/context.js'
import { PIPELINE, type Phase } from '../../gateway/pipeline.js'

/** One step of the gateway's order of checks, as docs/protocol.md ("Order of checks") publishes it. */
export interface RuntimeCheck {
  step: number
  /** The step's name in the pipeline table. */
  name: string
  phase: Phase
  /** Every runtime route, or the ones listed. */
  routes: 'all' | readonly RuntimeRoute[]
  check: string
  refusals: readonly Reason[]
}

/**
 * The runtime order of checks, for clients: the gateway's own table (src/gateway/pipeline.ts), not a
 * copy of it. docs/protocol.md's table is checked against this (test/discovery/order-of-checks.test.ts).
 */
export const RUNTIME_CHECKS: readonly RuntimeCheck[] = PIPELINE.map((s, step) => ({
  step, name: s.name, phase: s.phase, routes: s.routes, check: s.check, refusals: s.refusals,
}))

const stepsIn = (phase: Phase): number[] => RUNTIME_CHECKS.filter((c) => c.phase === phase).map((c) => c.step)
const range = (steps: number[]): string => (steps.length === 1 ? `${steps[0]}` : `${steps[0]} ${steps.length === 2 ? 'and' : 'to'} ${steps[steps.length - 1]}`)
const AUTHENTICATED_AFTER = PIPELINE.findIndex((s) => s.authenticates === true)

/** What the table alone does not say, derived from it. */
export const ORDER_NOTE = `The gateway answers with the first refusal. Steps ${range(stepsIn('headers'))} run before the body is read, steps ${range(stepsIn('body'))} once it is there, steps ${range(stepsIn('route'))} are the route's own, and step ${range(stepsIn('connection'))} runs for the life of an open connection. `
  + `Once step ${AUTHENTICATED_AFTER} passed, the request is authenticated: its nonce is recorded exactly once, whatever the answer (a 2xx, any 4xx, a 429); a request refused before records nothing. `
  + 'Until the secret is proven (token or signature), a refusal that depends on the key is `invalid_key` (token) or `bad_signature` (signature alone) and says nothing about the key.'

const ROUTE_PATHS: Record<RuntimeRoute, string> = {
  send: 'POST /v1/messages', inbox: 'GET /v1/inbox', ack: 'POST /v1/inbox/ack', whoami: 'GET /v1/whoami', connect: 'GET /v1/connect',
  'put-mode': 'PUT /v1/runtime/modes/{name}',
  'start-session': 'POST /v1/sessions', 'list-sessions': 'GET /v1/sessions', 'get-session': 'GET /v1/sessions/{id}',
  'commit-session': 'POST /v1/sessions/{id}/commit', 'cancel-session': 'POST /v1/sessions/{id}/cancel',
  nack: 'POST /v1/inbox/nack', extend: 'POST /v1/inbox/extend', reject: 'POST /v1/inbox/reject', 'dead-letters': 'GET /v1/inbox/dead',
  redrive: 'POST /v1/inbox/dead/redrive', purge: 'POST /v1/inbox/dead/purge',
}

/** The order of checks as docs/protocol.md shows it (the test compares the document with this, character for character). */
export function orderOfChecksMarkdown(): string {
  const rows = RUNTIME_CHECKS.map((c) => {
    const routes = c.routes === 'all' ? 'all' : c.routes.map((r) => `\`${ROUTE_PATHS[r]}\``).join(', ')
    const refusals = c.refusals.length === 0 ? '-' : c.refusals.map((r) => `${CATALOGUE[r].status} \`${r}\``).join(', ')
    return `| ${c.step} | ${c.phase} | ${routes} | ${c.check} | ${refusals} |`
  })
  return ['| # | Phase | Routes | Check | Refusals |', '|---|---|---|---|---|', ...rows].join('\n')
}

/** Where a reason comes from outside the runtime order of checks (or in addition to it). */
const OTHER_SOURCES: Partial<Record<Reason, string>> = {
  missing_credentials: 'Operator authentication on control-plane routes: no Authorization header. Also GET /v1/connect authenticated in its first frame (the `mecha.frame-auth` subprotocol): a first frame that is not `authenticate`, or none within MECHA_WS_AUTH_TIMEOUT_SECONDS of the challenge (an `error` frame, then close 1008; counted as a failed authentication).',
  malformed_credentials: 'Operator authentication on control-plane routes: an Authorization header that is not `Bearer <operator token>` (a Mecha key sent to the control plane included).',
  invalid_operator_token: 'Operator authentication on control-plane routes (/v1/mechas, /v1/keys, /v1/audit).',
  missing_scope: 'Operator authorisation, once the token is recognised: the route needs a scope the token lacks.',
  mecha_inactive: 'Control plane: changing a deactivated mecha, or issuing it a key.',
  invalid_request: 'Schema validation of the body, query or path, before the handler runs (on runtime routes, the `schema` step of the order of checks, after the nonce is recorded). Also WebSocket frames that are not an ack, and on a socket authenticated in its first frame, any frame sent after the authenticate frame and before `ready` (an `error` frame, then close 1008).',
  malformed_json: 'Body parsing, before schema validation (on runtime routes the `body` step, after authentication: the nonce is recorded).',
  payload_too_deep: 'Body parsing on every route, before JSON.parse runs: the body nests deeper than 65 levels (a message payload deeper than 64).',
  empty_body: 'Body parsing: Content-Type application/json declared with an empty body where one is required.',
  unsupported_media_type: 'Body parsing: a body whose Content-Type is not application/json.',
  invalid_id: 'Validation of identifiers in the path or body (mecha ids, key ids, mode names, to, from, reply_to).',
  invalid_pattern: 'Control plane: issuing or updating a key whose permission patterns are not allowed.',
  invalid_public_key: 'Control plane: issuing, updating or rotating a key with an Ed25519 public key that is not 32 bytes of base64url or not a valid point.',
  known_test_key: 'Control plane, in production (NODE_ENV=production): issuing, updating or rotating a key with an Ed25519 public key from a published example (RFC 8032, RFC 9421, docs/protocol.md). In development the key is accepted and a warning is logged.',
  invalid_expiry: 'Control plane: issuing or updating a key with a past expiry, or with both expires_at and ttl_seconds.',
  invalid_signature_policy: 'Control plane: issuing or updating a key with an inconsistent signature policy.',
  invalid_cursor: 'Control plane: a list route given a cursor it did not issue (GET /v1/audit `before`).',
  upgrade_required: 'GET /v1/connect without a WebSocket upgrade.',
  reauthenticate: 'An open WebSocket (GET /v1/connect) that reached MECHA_WS_MAX_AGE_SECONDS (default 3600) since its upgrade: a `closing` frame with this reason, then close code 1008. Not an HTTP refusal.',
  uri_too_long: 'The router, before routing: a path parameter longer than 200 characters.',
  header_too_large: 'The HTTP server, before routing: a request header block larger than MECHA_HEADER_LIMIT_BYTES; the connection is closed after the answer.',
  route_not_found: 'Routing: no route matches the method and path (an unknown schema name under /v1/schemas too).',
  mecha_not_found: 'Control plane: reading or changing a mecha that does not exist.',
  key_not_found: 'Control plane: reading or changing a key that does not exist.',
  unknown_mode: 'GET /v1/modes/{name} (open) and the mode writes (DELETE /v1/modes/{name}): no mode with this name.',
  mecha_exists: 'Control plane: POST /v1/mechas with an id that is already registered.',
  key_revoked: 'Control plane: changing or rotating a revoked key.',
  concurrent_update: 'Control plane: the record changed between read and write.',
  body_too_large: 'Body reading: more bytes than the body limit (limits.body_bytes in the discovery document).',
  request_timeout: 'The HTTP server, before routing: the request (headers and body) not received within MECHA_REQUEST_TIMEOUT_SECONDS; the connection is closed after the answer.',
  rate_limited: 'Operator authentication on control-plane routes too: the client address made MECHA_AUTH_FAILURE_LIMIT failed authentications (operator or runtime) within MECHA_AUTH_FAILURE_WINDOW_SECONDS, and is refused before any token comparison until the window ends. The response carries Retry-After and `retry_after`. Also GET /v1/connect, before the upgrade, when the key already holds MECHA_WS_MAX_PER_KEY open WebSockets on this instance (no Retry-After: close one first).',
  store_unavailable: 'Any step that reads the key store: the `key` step (and the connection re-check) on runtime routes, and every control-plane route.',
  replay_cache_unsafe: 'The `nonce` step and the `hand-off` of POST /v1/messages on Redis, when the replay cache\'s Redis has a maxmemory-policy other than noeviction (or it cannot be read): checked at start-up (the service refuses to start), on every reconnect and every 10 s. GET /readyz answers it too, naming the policy.',
  transport_unavailable: 'Also GET /v1/inbox, POST /v1/inbox/ack and GET /v1/connect when the transport cannot be reached.',
  verifier_unavailable: 'Operator authentication with a custom verifier (MECHA_OPERATOR_VERIFIER) that failed.',
  internal_error: 'Anywhere: an unexpected fault on the server, not a judgement on the request.',
}

export interface ReasonSource {
  /** The runtime steps (docs/protocol.md "Order of checks") that refuse with this reason. */
  runtime_checks: RuntimeCheck[]
  /** Other places that produce it. */
  other: string | undefined
}

/** Which checks produce `reason`. */
export function reasonSource(reason: Reason): ReasonSource {
  return {
    runtime_checks: RUNTIME_CHECKS.filter((c) => c.refusals.includes(reason)),
    other: OTHER_SOURCES[reason],
  }
}

/** Reasons with no described source: empty unless the catalogue grew without this file (a test checks). */
export function undescribedReasons(): Reason[] {
  return (Object.keys(CATALOGUE) as Reason[]).filter((r) => {
    const source = reasonSource(r)
    return source.runtime_checks.length === 0 && source.other === undefined
  })
}
