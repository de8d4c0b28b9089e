import { CATALOGUE, type Reason } from '../../errors/catalogue.js'

/** One step of the gateway's order of checks, as docs/protocol.md ("Order of checks") publishes it. */
export interface RuntimeCheck {
  step: number
  check: string
  refusals: readonly Reason[]
}

/**
 * The runtime order of checks, in the words of docs/protocol.md. The gateway enforces the order in
 * src/gateway/pipeline.ts; this is its description for clients, and test/discovery/mcp.test.ts fails
 * if it drifts from the protocol document's table.
 */
export const RUNTIME_CHECKS: readonly RuntimeCheck[] = [
  { step: 0, check: 'The client address is not over the failed-authentication limit (no lookup, no I/O)', refusals: ['rate_limited'] },
  { step: 1, check: 'Headers parse (token format and checksum, signature syntax, timestamp, nonce, no duplicates)', refusals: ['missing_credentials', 'malformed_credentials'] },
  { step: 2, check: 'The key exists, is not revoked or expired, and its mecha is active', refusals: ['invalid_key'] },
  { step: 3, check: 'Mecha-Timestamp within the window', refusals: ['stale_timestamp'] },
  { step: 4, check: 'The key\'s policy requires a signature', refusals: ['signature_required'] },
  { step: 5, check: 'The token\'s secret matches a live generation (constant time)', refusals: ['invalid_key'] },
  { step: 6, check: 'The signature: algorithm registered, components, parameters, Content-Digest, then the cryptographic check', refusals: ['malformed_credentials', 'bad_digest', 'bad_signature'] },
  { step: 7, check: 'The nonce is claimed in the replay cache (only after the credential verified)', refusals: ['replayed_nonce', 'replay_cache_unavailable'] },
  { step: 8, check: '`from`, when present, equals the key\'s mecha', refusals: ['sender_mismatch'] },
  { step: 9, check: 'The recipient is an active registered mecha that accepts the kind', refusals: ['unknown_recipient', 'kind_not_allowed'] },
  { step: 10, check: 'The key\'s permissions: recipient, kind, size', refusals: ['recipient_not_allowed', 'kind_not_allowed', 'message_too_large'] },
  { step: 11, check: 'The key\'s rate limit, when it has one', refusals: ['rate_limited', 'replay_cache_unavailable'] },
  { step: 12, check: 'Hand-off to the transport', refusals: ['inbox_full', 'transport_unavailable'] },
]

/** Where a reason comes from outside the runtime order of checks (or in addition to it). */
const OTHER_SOURCES: Partial<Record<Reason, string>> = {
  missing_credentials: 'Operator authentication on control-plane routes: no Authorization header.',
  malformed_credentials: 'Operator authentication on control-plane routes: an Authorization header that is not `Bearer <operator token>` (a Mecha key sent to the control plane included).',
  invalid_operator_token: 'Operator authentication on control-plane routes (/v1/mechas, /v1/keys, /v1/audit).',
  missing_scope: 'Operator authorisation, once the token is recognised: the route needs a scope the token lacks.',
  mecha_inactive: 'Control plane: changing a deactivated mecha, or issuing it a key.',
  invalid_request: 'Schema validation of the body, query or path, before the handler runs. On runtime routes it follows the credential checks (steps 1 to 6) and records no nonce.',
  malformed_json: 'Body parsing, before schema validation (on runtime routes after steps 1 to 5, which run before the body is read).',
  empty_body: 'Body parsing: Content-Type application/json declared with an empty body where one is required.',
  unsupported_media_type: 'Body parsing: a body whose Content-Type is not application/json.',
  invalid_id: 'Validation of identifiers in the path or body (mecha ids, key ids, to, from, reply_to).',
  invalid_pattern: 'Control plane: issuing or updating a key whose permission patterns are not allowed.',
  invalid_public_key: 'Control plane: issuing, updating or rotating a key with an Ed25519 public key that is not 32 bytes of base64url or not a valid point.',
  invalid_expiry: 'Control plane: issuing or updating a key with a past expiry, or with both expires_at and ttl_seconds.',
  invalid_signature_policy: 'Control plane: issuing or updating a key with an inconsistent signature policy.',
  invalid_cursor: 'Control plane: a list route given a cursor it did not issue (GET /v1/audit `before`).',
  upgrade_required: 'GET /v1/connect without a WebSocket upgrade.',
  uri_too_long: 'The router, before routing: a path parameter longer than 200 characters.',
  header_too_large: 'The HTTP server, before routing: a request header block larger than MECHA_HEADER_LIMIT_BYTES; the connection is closed after the answer.',
  route_not_found: 'Routing: no route matches the method and path (an unknown schema name under /v1/schemas too).',
  mecha_not_found: 'Control plane: reading or changing a mecha that does not exist.',
  key_not_found: 'Control plane: reading or changing a key that does not exist.',
  mecha_exists: 'Control plane: POST /v1/mechas with an id that is already registered.',
  key_revoked: 'Control plane: changing or rotating a revoked key.',
  concurrent_update: 'Control plane: the record changed between read and write.',
  body_too_large: 'Body reading: more bytes than the body limit (limits.body_bytes in the discovery document).',
  request_timeout: 'The HTTP server, before routing: the request (headers and body) not received within MECHA_REQUEST_TIMEOUT_SECONDS; the connection is closed after the answer.',
  rate_limited: 'Operator authentication on control-plane routes too: the client address made MECHA_AUTH_FAILURE_LIMIT failed authentications (operator or runtime) within MECHA_AUTH_FAILURE_WINDOW_SECONDS, and is refused before any token comparison until the window ends. The response carries Retry-After and `retry_after`. Also GET /v1/connect, before the upgrade, when the key already holds MECHA_WS_MAX_PER_KEY open WebSockets on this instance (no Retry-After: close one first).',
  store_unavailable: 'Any step that reads the key store: step 2 on runtime routes, and every control-plane route.',
  replay_cache_unsafe: 'Steps 7 and 12 (the nonce claim, and the accept of POST /v1/messages) on Redis, when the replay cache\'s Redis has a maxmemory-policy other than noeviction (or it cannot be read): checked at start-up (the service refuses to start), on every reconnect and every 10 s. GET /readyz answers it too, naming the policy.',
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
