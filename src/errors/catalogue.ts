/**
 * The one error catalogue. Every refusal the service can produce is a `reason` listed here, with its
 * public `code` and HTTP `status` beside it. Handlers never choose status numbers: they name a reason.
 *
 * `code` is the coarse, stable class a client switches on; `reason` says exactly what is wrong and is
 * equally stable (clients and the discovery surfaces may depend on it). `meaning` is shown to people
 * (problem `title`, discovery documents) and `fix` is the advice the MCP `explain_error` tool gives.
 */

export const ERROR_CODES = {
  UNAUTHENTICATED: [401],
  FORBIDDEN: [403],
  INVALID_ARGUMENT: [400, 405, 406, 411, 414, 415, 426, 431],
  NOT_FOUND: [404],
  CONFLICT: [409],
  RESOURCE_EXHAUSTED: [408, 413, 429],
  UNAVAILABLE: [503],
  INTERNAL: [500],
} as const satisfies Record<string, readonly number[]>

export type ErrorCode = keyof typeof ERROR_CODES

export interface CatalogueEntry {
  readonly code: ErrorCode
  readonly status: number
  readonly meaning: string
  readonly fix: string
}

function entry(code: ErrorCode, status: number, meaning: string, fix: string): CatalogueEntry {
  return { code, status, meaning, fix }
}

export const CATALOGUE = {
  // --- authentication (operator and runtime) ---
  missing_credentials: entry('UNAUTHENTICATED', 401, 'No credentials were presented.',
    'Send `Authorization: Bearer <operator token>` on control-plane routes, or a Mecha key (token and/or signature) on runtime routes.'),
  malformed_credentials: entry('UNAUTHENTICATED', 401, 'The credentials could not be parsed.',
    'Check the Authorization scheme and token format (`mecha_...` for Mecha keys), and the Signature-Input/Signature syntax.'),
  invalid_operator_token: entry('UNAUTHENTICATED', 401, 'The operator token is not recognised.',
    'Use a token configured in MECHA_OPERATOR_TOKENS_JSON / MECHA_OPERATOR_TOKENS_FILE or accepted by the custom verifier.'),
  invalid_key: entry('UNAUTHENTICATED', 401, 'The Mecha key is unknown, revoked, expired, or its mecha is inactive.',
    'Ask an operator for the key status (`mecharim keys show <key id>`) and issue or rotate a key if needed.'),
  stale_timestamp: entry('UNAUTHENTICATED', 401, 'Mecha-Timestamp is outside the accepted window around server time.',
    'Send the current unix time in seconds; correct the clock using the server_time in the error body.'),
  replayed_nonce: entry('UNAUTHENTICATED', 401, 'This nonce was already used with this key.',
    'Generate a fresh Mecha-Nonce (at least 128 random bits, base64url) for every request, retries included.'),
  bad_signature: entry('UNAUTHENTICATED', 401, 'The request signature does not verify.',
    'Rebuild the signature base exactly as docs/protocol.md describes, with the key registered for this key id.'),
  bad_digest: entry('UNAUTHENTICATED', 401, 'Content-Digest does not match the body bytes, or is missing on a signed request with a body.',
    'Compute `sha-256=:<base64 of SHA-256(raw body bytes)>:` over the exact bytes sent.'),
  signature_required: entry('UNAUTHENTICATED', 401, 'This key requires a request signature.',
    'Sign the request with HMAC-SHA256 or Ed25519 as registered on the key (profile mecha-v1).'),
  dev_sender_refused: entry('UNAUTHENTICATED', 401, 'Mecha-Dev-Sender is not accepted by this server.',
    'It works only on a development server started with MECHA_ALLOW_DEV_SENDER_HEADER=1; otherwise send a Mecha key.'),
  reauthenticate: entry('UNAUTHENTICATED', 401, 'The connection reached its maximum age and must authenticate again.',
    'Reconnect with fresh credentials; the SDK and `mecharim listen` do this by themselves.'),
  sender_mismatch: entry('UNAUTHENTICATED', 401, 'The message `from` differs from the mecha the key belongs to.',
    'Omit `from` (the gateway fills it in) or set it to your own mecha id.'),
  // --- authorisation ---
  missing_scope: entry('FORBIDDEN', 403, 'The operator token lacks the scope this route requires.',
    'Use an operator token with the listed scope (keys:read, keys:write or audit:read).'),
  recipient_not_allowed: entry('FORBIDDEN', 403, 'The key may not send to this recipient.',
    'Ask an operator to widen permissions.recipients on the key.'),
  kind_not_allowed: entry('FORBIDDEN', 403, 'The key may not send this message kind, or the recipient does not accept it.',
    'Check permissions.kinds on the key and the recipient\'s `accepts` list (its directory card).'),
  cannot_manage_modes: entry('FORBIDDEN', 403, 'The key may not create or replace session modes.',
    'Ask an operator to set permissions.sessions.can_manage_modes on the key, or have an operator change the mode on the control plane.'),
  cannot_start_sessions: entry('FORBIDDEN', 403, 'The key may not start sessions.',
    'Ask an operator to set permissions.sessions.can_start on the key; taking part in a session someone else started needs no permission.'),
  mode_not_allowed: entry('FORBIDDEN', 403, 'The key may not start sessions in this mode.',
    'Ask an operator to add the mode (or a glob matching it) to permissions.sessions.modes on the key.'),
  not_a_participant: entry('FORBIDDEN', 403, 'The sender, or the recipient it names, is not a participant of the session.',
    'Send only within sessions your mecha takes part in, to its participants (GET /v1/sessions/{id} lists them); omit `to` to send to every other participant.'),
  kind_not_in_mode: entry('FORBIDDEN', 403, 'The message kind is not one of the session\'s mode\'s kinds.',
    'Use one of the kinds the session lists (`kinds` in GET /v1/sessions/{id}, taken from its mode when it started).'),
  not_session_initiator: entry('FORBIDDEN', 403, 'Only the mecha that started the session may commit or cancel it.',
    'Ask the initiator (the session\'s `initiator`) to commit or cancel.'),
  mecha_inactive: entry('CONFLICT', 409, 'The mecha is deactivated.',
    'Deactivated mechas keep their history but cannot be changed or given keys; register a new mecha id.'),
  // --- bad input ---
  invalid_request: entry('INVALID_ARGUMENT', 400, 'The request does not match the schema.',
    'Read `detail` for the offending field and compare with the JSON Schema at /v1/schemas.'),
  malformed_json: entry('INVALID_ARGUMENT', 400, 'The body is not valid JSON.',
    'Send a UTF-8 JSON document with `Content-Type: application/json`.'),
  payload_too_deep: entry('INVALID_ARGUMENT', 400, 'The JSON body nests deeper than the documented bound (a message payload at most 64 levels).',
    'Flatten the payload; the body is refused before it is parsed.'),
  empty_body: entry('INVALID_ARGUMENT', 400, 'A JSON body was declared but is empty.',
    'Send a JSON object, or drop the Content-Type header when there is no body.'),
  unsupported_media_type: entry('INVALID_ARGUMENT', 415, 'The Content-Type is not accepted here.',
    'Send `Content-Type: application/json`.'),
  invalid_id: entry('INVALID_ARGUMENT', 400, 'An identifier is not well formed.',
    'Mecha ids are 1-64 characters of a-z, 0-9, `-`, `_`, `.`; key ids look like `mk` followed by 24 base32 characters; mode names start with a-z, then up to 63 of a-z, 0-9, `.`, `_`, `-`.'),
  invalid_pattern: entry('INVALID_ARGUMENT', 400, 'A permission glob pattern is not allowed.',
    'Patterns use only id characters and `*` (any run) or `?` (one character), at most 8 wildcards.'),
  invalid_public_key: entry('INVALID_ARGUMENT', 400, 'An Ed25519 public key is not 32 bytes of base64url.',
    'Send the raw 32-byte public key encoded as unpadded base64url (43 characters).'),
  known_test_key: entry('INVALID_ARGUMENT', 400, 'The Ed25519 public key is a published test key (an RFC or protocol document example) whose private key anyone can read.',
    'Generate a fresh key pair (`openssl genpkey -algorithm ed25519`, or crypto.generateKeyPairSync(\'ed25519\')) and register its public key.'),
  invalid_expiry: entry('INVALID_ARGUMENT', 400, 'The expiry is in the past or both expires_at and ttl_seconds were given.',
    'Give either a future `expires_at` (RFC 3339) or a positive `ttl_seconds`.'),
  invalid_signature_policy: entry('INVALID_ARGUMENT', 400, 'The signature policy is inconsistent.',
    'List at least one algorithm when signatures are required, and give public_keys whenever ed25519 is listed.'),
  invalid_cursor: entry('INVALID_ARGUMENT', 400, 'The pagination cursor is not valid.',
    'Pass back a cursor exactly as the service returned it.'),
  uri_too_long: entry('INVALID_ARGUMENT', 414, 'A path segment is longer than the server accepts.', 'Identifiers are at most 64 (mecha) or 26 (key) characters.'),
  upgrade_required: entry('INVALID_ARGUMENT', 426, 'This route is a WebSocket: the request must ask for an upgrade.',
    'Open a WebSocket (Connection: Upgrade, Upgrade: websocket) with the same authentication headers.'),
  header_too_large: entry('INVALID_ARGUMENT', 431, 'A request header is too large.',
    'Keep headers within the documented limits.'),
  // --- not found / conflicts ---
  route_not_found: entry('NOT_FOUND', 404, 'No such route.', 'See /openapi.json for the routes this server has.'),
  mecha_not_found: entry('NOT_FOUND', 404, 'No such mecha.', 'Check the mecha id (`mecharim mechas list`).'),
  key_not_found: entry('NOT_FOUND', 404, 'No such key.', 'Check the key id (`mecharim keys list <mecha>`).'),
  unknown_mode: entry('NOT_FOUND', 404, 'No such session mode.', 'List the modes with GET /v1/modes.'),
  unknown_session: entry('NOT_FOUND', 404, 'No such session that this mecha takes part in.',
    'Check the session id (`ses_...`); GET /v1/sessions lists the sessions your mecha takes part in.'),
  unknown_recipient: entry('NOT_FOUND', 404, 'The recipient is not an active registered mecha.',
    'Check the `to` field; the recipient must be registered and active.'),
  mecha_exists: entry('CONFLICT', 409, 'A mecha with this id already exists.', 'Pick another id, or PATCH the existing mecha.'),
  key_revoked: entry('CONFLICT', 409, 'The key is revoked and cannot be changed or rotated.', 'Issue a new key.'),
  session_closed: entry('CONFLICT', 409, 'The session is committed, cancelled or past its expiry: it takes no more messages and cannot be closed again.',
    'Start a new session; GET /v1/sessions/{id} shows how this one ended.'),
  concurrent_update: entry('CONFLICT', 409, 'The record changed while this request was being applied.', 'Retry the request.'),
  // --- limits ---
  body_too_large: entry('RESOURCE_EXHAUSTED', 413, 'The request body exceeds the size limit.', 'Send a smaller body.'),
  request_timeout: entry('RESOURCE_EXHAUSTED', 408, 'The request (headers and body) was not received within the time limit.',
    'Send the whole request promptly (within MECHA_REQUEST_TIMEOUT_SECONDS, default 45), on a new connection: this one was closed.'),
  message_too_large: entry('RESOURCE_EXHAUSTED', 413, 'The message exceeds the key\'s max_message_bytes.',
    'Send a smaller payload or ask an operator to raise permissions.max_message_bytes.'),
  idempotency_key_reused: entry('CONFLICT', 409, 'The Idempotency-Key was already used by this sender for a different request (method, path or body); nothing was delivered.',
    'Use a new Idempotency-Key for a new message; retry a message only with the exact request first sent under its key.'),
  inbox_full: entry('RESOURCE_EXHAUSTED', 429, 'The recipient\'s inbox holds the maximum number (MECHA_INBOX_LIMIT) or bytes (MECHA_INBOX_MAX_BYTES) of unacknowledged messages.',
    'Retry after Retry-After seconds; the recipient must acknowledge messages to make room.'),
  sender_share_exceeded: entry('RESOURCE_EXHAUSTED', 429, 'This sender holds its share (MECHA_INBOX_SENDER_SHARE) of the recipient\'s unacknowledged messages or bytes; other senders still get through.',
    'Retry after Retry-After seconds; the recipient must acknowledge this sender\'s messages to make room.'),
  too_many_open_sessions: entry('RESOURCE_EXHAUSTED', 429, 'The key has as many open sessions as permissions.sessions.max_open allows.',
    'Commit or cancel one of the key\'s open sessions (or let one expire), or ask an operator to raise max_open.'),
  rate_limited: entry('RESOURCE_EXHAUSTED', 429, 'Too many requests.', 'Wait for the number of seconds in Retry-After.'),
  // --- faults ---
  store_unavailable: entry('UNAVAILABLE', 503, 'The key store cannot be reached.', 'Retry later; operators should check the store (Redis or the data directory).'),
  replay_cache_unavailable: entry('UNAVAILABLE', 503, 'The replay cache cannot be reached; nothing was accepted.', 'Retry later with a fresh nonce.'),
  replay_cache_unsafe: entry('UNAVAILABLE', 503, 'The replay cache\'s Redis may evict nonces (its maxmemory-policy is not noeviction), so replays cannot be ruled out; nothing was accepted.',
    'Retry later with a fresh nonce; operators: `CONFIG SET maxmemory-policy noeviction` (and CONFIG REWRITE), or `maxmemory-policy noeviction` in redis.conf or the managed service\'s parameter group. /readyz names the policy found.'),
  transport_unavailable: entry('UNAVAILABLE', 503, 'The Mechagram transport cannot be reached; the request is not known to have been accepted.', 'Retry later with a fresh nonce, and with the same Idempotency-Key and body: a message whose accept was cut off may have been stored, and the key makes the retry return it instead of storing it twice.'),
  storage_full: entry('UNAVAILABLE', 503, 'The service\'s storage is at its high-water mark (MECHA_STORAGE_HIGH_WATER of Redis maxmemory, or of the embedded store\'s disk); new messages are refused and nothing was stored. Reads, acks, whoami and control-plane writes still work.',
    'Retry after Retry-After seconds with a fresh nonce. Operators: recipients draining their inboxes make room; otherwise raise Redis maxmemory or free disk space.'),
  verifier_unavailable: entry('UNAVAILABLE', 503, 'The operator token verifier failed; nothing was changed.', 'Retry later; operators should check the MECHA_OPERATOR_VERIFIER backend.'),
  internal_error: entry('INTERNAL', 500, 'An unexpected error occurred.', 'Report the request_id to the operators.'),
} as const satisfies Record<string, CatalogueEntry>

export type Reason = keyof typeof CATALOGUE

export function isReason(value: string): value is Reason {
  return Object.prototype.hasOwnProperty.call(CATALOGUE, value)
}
