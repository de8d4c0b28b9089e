import type { DeliverySettings } from '../model.js'
/**
 * Every environment variable the service reads, with its default and meaning. This table is the
 * schema: `loadConfig` parses against it, the README's configuration table is checked against it
 * (test/unit/config/readme-table.test.ts), and nothing else reads process.env.
 */
export interface VariableSpec {
  readonly name: string
  /** Shown in the README; `undefined` means unset by default. */
  readonly default: string | undefined
  readonly description: string
}

export const VARIABLES = [
  { name: 'HOST', default: '127.0.0.1', description: 'Interface to listen on.' },
  { name: 'PORT', default: '8080', description: 'TCP port to listen on (0 picks a free port, and the default MECHA_PUBLIC_URL names the port picked).' },
  { name: 'MECHA_ROLE', default: 'all', description: 'Which surfaces this process serves: `all`; `gateway` (runtime routes, discovery, health, metrics: no operator route whatever is configured, and no operator token needed in production); `control` (operator routes, audit, discovery, health, metrics: no runtime route).' },
  { name: 'NODE_ENV', default: 'development', description: '`development`, `production` or `test` (runs as development); anything else stops the start. `production` refuses to start without operator tokens and MECHA_MASTER_KEY.' },
  { name: 'LOG_LEVEL', default: 'info', description: 'pino level: fatal, error, warn, info, debug, trace or silent. Each request logs two lines (`incoming request`, `request completed`) at info in production and at debug otherwise.' },
  { name: 'MECHA_LOG_FORMAT', default: undefined, description: '`json`: JSON lines on stdout; `pretty`: readable lines on stderr. Unset: `pretty` in development when stdout and stderr are both a terminal, `json` otherwise.' },
  { name: 'MECHA_PUBLIC_URL', default: 'http://HOST:PORT', description: 'Public origin clients use; the `@authority` of signed requests is checked against it. The default is `https://HOST:PORT` when MECHA_TLS_CERT_PATH is set. Set it when HOST is `0.0.0.0` or `::` (as the Dockerfile sets it): those name no address a client can reach, and the service warns at start.' },
  { name: 'MECHA_TLS_CERT_PATH', default: undefined, description: 'PEM certificate (chain) to serve HTTPS and WSS on PORT; set with MECHA_TLS_KEY_PATH (both or neither). Re-read on SIGHUP and when the files change, without dropping connections; an invalid new pair keeps the one in force.' },
  { name: 'MECHA_TLS_KEY_PATH', default: undefined, description: 'PEM private key of MECHA_TLS_CERT_PATH.' },
  { name: 'MECHA_TLS', default: undefined, description: '`proxy`: TLS is terminated in front of Mecharim (a reverse proxy or load balancer). NODE_ENV=production refuses to start without MECHA_TLS_CERT_PATH or this.' },
  { name: 'MECHA_DATA_DIR', default: './data', description: 'Embedded store directory (LMDB), and the development master key file.' },
  { name: 'REDIS_URL', default: undefined, description: 'Use Redis for the stores: `redis://127.0.0.1:6379/0` (or `rediss://`) for one server, `redis+cluster://host1:6379,host2:6379,host3:6379/` (or `rediss+cluster://`) for the seed nodes of a Redis Cluster (Redis 7 or later; keys hash-tagged by mecha). Unset: the embedded store.' },
  { name: 'MECHA_CONTROL_REDIS_URL', default: undefined, description: 'Put the control store (mechas, keys, audit, change feed) on its own Redis (same URL forms as REDIS_URL); REDIS_URL then serves the data plane only (inboxes, nonces, rate limits). Needs REDIS_URL. Unset: both on REDIS_URL.' },
  { name: 'MECHA_REDIS_PREFIX', default: 'mecharim:', description: 'Prefix of every Redis key the service writes.' },
  { name: 'MECHA_MASTER_KEY', default: undefined, description: '32 bytes (64 hex characters or base64/base64url) sealing HMAC signing secrets with AES-256-GCM. Required in production; in development a key is generated into MECHA_DATA_DIR/master.key.' },
  { name: 'MECHA_OPERATOR_TOKENS_JSON', default: undefined, description: 'Operator tokens: `{"<token>": {"operator": "alice", "scopes": ["keys:read", "keys:write", "audit:read"]}}` or `{"<token>": "alice"}` (all scopes).' },
  { name: 'MECHA_OPERATOR_TOKENS_FILE', default: undefined, description: 'Path of a JSON file in the MECHA_OPERATOR_TOKENS_JSON format. Setting both is an error. Re-read on SIGHUP and when it changes (a removed token is refused within 1 second); an invalid file keeps the previous tokens.' },
  { name: 'MECHA_OPERATOR_TOKENS', default: undefined, description: 'Deprecated: comma-separated tokens, all mapped to operator `unattributed` with every scope.' },
  { name: 'MECHA_OPERATOR_VERIFIER', default: undefined, description: 'Path of an ES module exporting `verifyToken(token) -> {operator, scopes} | null` (Vault, OIDC...). Consulted after the static tokens.' },
  { name: 'MECHA_TIMESTAMP_WINDOW_SECONDS', default: '300', description: 'Accepted clock difference for Mecha-Timestamp, in seconds (1 to 3600).' },
  { name: 'MECHA_MAX_FUTURE_SKEW_SECONDS', default: '30', description: 'How far ahead of server time a Mecha-Timestamp may be (0 to MECHA_TIMESTAMP_WINDOW_SECONDS). Also the margin after a replay-cache loss: requests signed before `epoch + this` are refused, so a fast client clock cannot carry a pre-loss request past the epoch.' },
  { name: 'MECHA_DURABILITY', default: 'everysec', description: 'The least durability a 202 must have, checked at start against the store (reported in /.well-known/mecharim and /readyz): `fsync` (on disk before the 202: Redis `appendonly yes` + `appendfsync always`; the embedded store commits synchronously), `everysec` (Redis `appendfsync everysec` or better: a host crash may lose about a second), `memory` (accepts a Redis without persistence). The service refuses to start when the store gives less; see docs/security.md.' },
  { name: 'MECHA_VISIBILITY_TIMEOUT_SECONDS', default: '30', description: 'A delivered message not acknowledged within this time is delivered again (at-least-once). The default of every mecha\'s `delivery.visibility_seconds` (1 to 43200).' },
  { name: 'MECHA_MAX_DELIVERIES', default: '5', description: 'The default of every mecha\'s `delivery.max_deliveries` (1 to 1000): a message delivered this many times without an ack moves to the recipient\'s dead letters (reason `max_deliveries`) instead of being delivered again, and its sender gets a `mecha.delivery.failed` receipt.' },
  { name: 'MECHA_DELIVERY_BACKOFF_SECONDS', default: '0', description: 'The default of every mecha\'s `delivery.backoff_seconds`, comma-separated (`5,30,300`; at most 10, each 0 to 43200): after delivery n without an ack a message waits the n-th (the last repeated) beyond its visibility timeout, and a nack without a delay waits the same. `0`: no wait.' },
  { name: 'MECHA_DEAD_LETTER_TTL_SECONDS', default: '1209600', description: 'The default of every mecha\'s `delivery.dead_letter_ttl_seconds` (60 to 2592000): how long a dead letter is kept (it counts against MECHA_INBOX_MAX_BYTES until then).' },
  { name: 'MECHA_INBOX_LIMIT', default: '10000', description: 'Unacknowledged messages one inbox may hold; beyond it senders get 429 `inbox_full`.' },
  { name: 'MECHA_INBOX_MAX_BYTES', default: '67108864', description: 'Bytes of unacknowledged messages (as stored, JSON) one inbox may hold, beside MECHA_INBOX_LIMIT; beyond it senders get 429 `inbox_full`. At least 65536.' },
  { name: 'MECHA_INBOX_SENDER_SHARE', default: '0.5', description: 'Share (above 0, at most 1) of an inbox\'s MECHA_INBOX_LIMIT and MECHA_INBOX_MAX_BYTES one sender may hold; beyond it that sender gets 429 `sender_share_exceeded` while other senders still get through. 1 turns the share off.' },
  { name: 'MECHA_STORAGE_HIGH_WATER', default: '0.9', description: 'Share (above 0, at most 1) of the store\'s space at which new messages are refused with 503 `storage_full`: Redis `used_memory` against `maxmemory` (no limit without maxmemory), the embedded store\'s pages in use against its file and the free disk; sampled at most once a second. Reads, acks, their nonces, whoami and control-plane writes are never refused by it: the rest is their headroom.' },
  { name: 'MECHA_IDEMPOTENCY_TTL_SECONDS', default: '86400', description: 'How long a sender\'s Idempotency-Key is remembered (with the acceptance and a digest of the request) for idempotent retries.' },
  { name: 'MECHA_DEFAULT_KEY_RATE_LIMIT', default: '100/1', description: 'The `rate_limit` a key is issued with when the request gives none, as `<requests>/<seconds>`; `rate_limit: null` on issue is the operator\'s explicit choice of no limit. `off`: keys issued without one are not limited.' },
  { name: 'MECHA_KEY_CACHE_TTL_SECONDS', default: '30', description: 'How long the gateway may serve a key or mecha record from memory. Changes evict at once through the change feed; this is the backstop.' },
  { name: 'MECHA_AUTH_FAILURE_LIMIT', default: '30', description: 'Failed authentications one client address may make per MECHA_AUTH_FAILURE_WINDOW_SECONDS before it gets 429 `rate_limited` (shared across instances on Redis). 0 disables. In development, while unset, loopback clients (127.0.0.0/8, ::1) get 300.' },
  { name: 'MECHA_AUTH_FAILURE_WINDOW_SECONDS', default: '60', description: 'Window of the failed-authentication limit, in seconds.' },
  { name: 'MECHA_AUTH_FAILURE_IPV6_PREFIX', default: '64', description: 'Client addresses are throttled per IPv6 network of this prefix length (32 to 128): one /64 is one address. IPv4-mapped IPv6 counts as the IPv4 address.' },
  { name: 'MECHA_OPEN_RATE_LIMIT', default: '600/60', description: 'Requests one client address may make to the open surfaces (discovery, schemas, directory, docs, /mcp, /metrics on the main listener) per window, as `<requests>/<seconds>`; beyond it 429 `rate_limited` with Retry-After (shared across instances on Redis). /healthz and /readyz are never counted. `off` disables.' },
  { name: 'MECHA_REQUEST_TIMEOUT_SECONDS', default: '45', description: 'Longest a client may take to send a request (headers and body); beyond it 408 `request_timeout` and the connection is closed. Does not limit the long-poll.' },
  { name: 'MECHA_HEADER_LIMIT_BYTES', default: '16384', description: 'Largest request header block; beyond it 431.' },
  { name: 'MECHA_WS_IDLE_TIMEOUT_SECONDS', default: '120', description: 'A WebSocket that sends nothing (not even a pong) for this long is closed.' },
  { name: 'MECHA_WS_MAX_AGE_SECONDS', default: '3600', description: 'A WebSocket is closed this long after it authenticated (its upgrade, or its first frame in the browser handshake; a `closing` frame with reason `reauthenticate`, then code 1008), so that it authenticates again; the SDK and `mecharim listen` reconnect by themselves.' },
  { name: 'MECHA_WS_AUTH_TIMEOUT_SECONDS', default: '10', description: 'A WebSocket that authenticates in its first frame (browsers: the `mecha.frame-auth` subprotocol) must send its `authenticate` frame within this many seconds of the challenge (1 to 60); until then it counts as an unauthenticated attempt of its address.' },
  { name: 'MECHA_WS_MAX_PER_KEY', default: '8', description: 'Open WebSockets one key may hold on one instance; more are refused with 429.' },
  { name: 'MECHA_SHUTDOWN_GRACE_SECONDS', default: '10', description: 'On SIGTERM, how long in-flight requests may finish before connections are closed.' },
  { name: 'MECHA_BODY_LIMIT_BYTES', default: '1048576', description: 'Largest request body accepted, in bytes.' },
  { name: 'MECHA_METRICS', default: undefined, description: '`on`: Prometheus metrics at GET /metrics; `off`: no metrics route; `port:<n>`: metrics served only on a separate listener at HOST:<n>. Unset: `on` in development, `port:9464` when NODE_ENV=production (metrics stay off the public listener).' },
  { name: 'MECHA_ALLOW_DEV_SENDER_HEADER', default: undefined, description: '`1`: a runtime request with `Mecha-Dev-Sender: <mecha id>` and no credential acts as that active mecha with every permission (no timestamp or nonce), each one logged and audited as `dev_sender`. Development only: refused with NODE_ENV=production.' },
  { name: 'MECHA_TRUST_PROXY', default: 'false', description: 'Trust X-Forwarded-For for the client address (audit, rate limits): `true`, `false`, or a comma-separated list of proxy addresses/CIDRs.' },
] as const satisfies readonly VariableSpec[]

export type VariableName = (typeof VARIABLES)[number]['name']

/** MECHA_LOG_FORMAT; unset, src/observability/log-output.ts chooses at start. */
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]
/** The process roles (MECHA_ROLE); src/surfaces.ts says which access classes each serves. */
export const ROLES = ['all', 'gateway', 'control'] as const
export type Role = (typeof ROLES)[number]
/** MECHA_DURABILITY, weakest last; src/stores/durability.ts says what each survives. */
export const DURABILITY_LEVELS = ['fsync', 'everysec', 'memory'] as const
export type DurabilityLevel = (typeof DURABILITY_LEVELS)[number]

export const OPERATOR_SCOPES = ['keys:read', 'keys:write', 'audit:read'] as const
export type OperatorScope = (typeof OPERATOR_SCOPES)[number]

export interface OperatorIdentity {
  operator: string
  scopes: readonly OperatorScope[]
}

export interface StaticOperatorToken {
  /** SHA-256 of the token; the token itself is not kept. */
  digest: Buffer
  identity: OperatorIdentity
}

export interface Config {
  readonly host: string
  readonly port: number
  /** NODE_ENV; `test` runs as development does. */
  readonly environment: 'development' | 'production' | 'test'
  /** environment === 'production'. */
  readonly production: boolean
  /** MECHA_ROLE: which surfaces this process serves (src/surfaces.ts ROLE_ACCESS). */
  readonly role: Role
  readonly logLevel: string
  /** MECHA_LOG_FORMAT; undefined: chosen at start from the environment and whether the output is a terminal. */
  readonly logFormat: LogFormat | undefined
  /** Origin clients use, without trailing slash. */
  readonly publicUrl: string
  /** `host[:port]` of the public origin: the expected `@authority` of signed requests. */
  readonly publicAuthority: string
  readonly dataDir: string
  /** Serve HTTPS/WSS from these PEM files (MECHA_TLS_CERT_PATH, MECHA_TLS_KEY_PATH); undefined: plain HTTP. */
  readonly tls: { readonly certPath: string; readonly keyPath: string } | undefined
  readonly redisUrl: string | undefined
  /** MECHA_CONTROL_REDIS_URL: the control store's own Redis; undefined: on redisUrl. */
  readonly controlRedisUrl: string | undefined
  readonly redisPrefix: string
  /** undefined in development: main.ts generates or loads one from the data directory. */
  readonly masterKey: Buffer | undefined
  readonly operatorTokens: readonly StaticOperatorToken[]
  /**
   * MECHA_OPERATOR_TOKENS_FILE, re-read while running: its path, and the tokens configured alongside
   * it (the deprecated MECHA_OPERATOR_TOKENS), which every reload keeps.
   */
  readonly operatorTokensFile: { readonly path: string; readonly alongside: readonly StaticOperatorToken[] } | undefined
  readonly operatorVerifierPath: string | undefined
  /** True when neither tokens nor a verifier are configured (development only): one is generated. */
  readonly generateOperatorToken: boolean
  readonly timestampWindowSeconds: number
  /**
   * How far in the future a Mecha-Timestamp may be (the past keeps `timestampWindowSeconds`). The
   * replay cache refuses `timestamp < epoch + maxFutureSkewSeconds` with this same value.
   */
  readonly maxFutureSkewSeconds: number
  readonly bodyLimitBytes: number
  readonly authFailureLimit: number
  /** The limit for loopback clients: MECHA_AUTH_FAILURE_LIMIT, or 300 in development when it is unset. */
  readonly authFailureLoopbackLimit: number
  readonly authFailureWindowSeconds: number
  readonly authFailureIpv6Prefix: number
  /** The per-address budget of the open surfaces (MECHA_OPEN_RATE_LIMIT); undefined when `off`. */
  readonly openRateLimit: { readonly limit: number; readonly windowSeconds: number } | undefined
  readonly requestTimeoutSeconds: number
  readonly headerLimitBytes: number
  readonly wsIdleTimeoutSeconds: number
  readonly wsMaxPerKey: number
  readonly wsMaxAgeSeconds: number
  readonly wsAuthTimeoutSeconds: number
  readonly shutdownGraceSeconds: number
  readonly visibilityTimeoutSeconds: number
  /** The delivery policy of every mecha that does not set its own (MECHA_MAX_DELIVERIES and the rest; lifecycle/delivery-policy.ts). */
  readonly deliveryDefaults: Readonly<DeliverySettings>
  /** The least durability a 202 must have; the stores refuse to open below it. */
  readonly durability: DurabilityLevel
  readonly inboxLimit: number
  /** MECHA_INBOX_MAX_BYTES. */
  readonly inboxMaxBytes: number
  /** MECHA_INBOX_SENDER_SHARE, in (0, 1]. */
  readonly inboxSenderShare: number
  /** MECHA_STORAGE_HIGH_WATER, in (0, 1]: the share of a store's space at which accepts are refused. */
  readonly storageHighWater: number
  /** MECHA_DEFAULT_KEY_RATE_LIMIT: given to keys issued without `rate_limit`; null for `off`. */
  readonly defaultKeyRateLimit: { readonly requests: number; readonly per_seconds: number } | null
  readonly idempotencyTtlSeconds: number
  readonly keyCacheTtlSeconds: number
  /** MECHA_ALLOW_DEV_SENDER_HEADER=1 (never in production). */
  readonly allowDevSenderHeader: boolean
  readonly trustProxy: boolean | string[]
  /** Where metrics are served: on the main listener, nowhere, or on a separate port. */
  readonly metrics: { mode: 'on' } | { mode: 'off' } | { mode: 'port'; port: number }
  /** Warnings to log once the logger exists (deprecations). Never contain secrets. */
  readonly warnings: readonly string[]
}
