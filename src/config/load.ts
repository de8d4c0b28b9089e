import { readFileSync } from 'node:fs'
import { DELIVERY_LIMITS, parseBackoff } from '../lifecycle/delivery-policy.js'
import { parseRedisUrl } from '../stores/redis/url.js'
import { sha256 } from '../crypto/digest.js'
import { fromBase64url } from '../crypto/encoding.js'
import {
  DURABILITY_LEVELS, LOG_FORMATS, OPERATOR_SCOPES, ROLES, VARIABLES,
  type Config, type DurabilityLevel, type Role, type OperatorScope, type StaticOperatorToken, type VariableName,
} from './schema.js'

export type Env = Readonly<Record<string, string | undefined>>

/** A configuration problem; the message names the variable and never contains its secret value. */
export class ConfigError extends Error {
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

const MIN_OPERATOR_TOKEN_LENGTH = 32
/**
 * Where production serves metrics unless MECHA_METRICS says otherwise (the port Prometheus assigns to
 * its exporters' default range). Metrics show the service's traffic, refusal reasons and when
 * operators issue or revoke keys: by default they are not on the listener the public reaches.
 */
const PRODUCTION_METRICS_PORT = 9464
/** `test` behaves as `development`; it exists because test runners set it. */
const NODE_ENVS = ['development', 'production', 'test'] as const
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

interface LoadOptions {
  readFile?: (path: string) => string
}

/** Parse and validate the environment once; all problems are reported together. Returns a frozen Config. */
export function loadConfig(env: Env, options: LoadOptions = {}): Config {
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'))
  const problems: string[] = []
  const warnings: string[] = []
  const value = (name: VariableName): string | undefined => {
    const raw = env[name]
    if (raw !== undefined && raw.trim() !== '') return raw.trim()
    return VARIABLES.find((v) => v.name === name)?.default
  }
  const set = (name: VariableName): string | undefined => {
    const raw = env[name]
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim()
  }
  const integer = (name: VariableName, min: number, max: number): number => {
    const raw = value(name) ?? ''
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
      return min
    }
    return n
  }

  // Exact names only: `prod` or `Production` used to run development mode without a word (issue 11).
  const rawNodeEnv = value('NODE_ENV') ?? 'development'
  const environment = NODE_ENVS.find((name) => name === rawNodeEnv)
  if (environment === undefined) problems.push(`NODE_ENV must be ${NODE_ENVS.slice(0, -1).join(', ')} or ${NODE_ENVS.at(-1) ?? ''}, got ${JSON.stringify(rawNodeEnv)}`)
  const production = environment === 'production'
  const host = value('HOST') ?? '127.0.0.1'
  const port = integer('PORT', 0, 65535)
  const logLevel = value('LOG_LEVEL') ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`)
  const rawLogFormat = set('MECHA_LOG_FORMAT')
  const logFormat = LOG_FORMATS.find((format) => format === rawLogFormat)
  if (rawLogFormat !== undefined && logFormat === undefined) problems.push(`MECHA_LOG_FORMAT must be ${LOG_FORMATS.join(' or ')}, got ${JSON.stringify(rawLogFormat)}`)

  const tls = parseTls(set, production, problems)
  let publicUrl = listenerOrigin(host, port, tls !== undefined)
  if (publicUrl === undefined) {
    problems.push(`HOST must be a host name or an IP address (IPv6 without brackets), got ${JSON.stringify(host)}`)
    publicUrl = new URL(`http://127.0.0.1:${port}`)
  }
  const rawPublicUrl = set('MECHA_PUBLIC_URL')
  if (rawPublicUrl !== undefined) {
    try {
      const parsed = new URL(rawPublicUrl)
      if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '') {
        problems.push(`MECHA_PUBLIC_URL must be an http(s) origin without path, query or credentials, got ${JSON.stringify(rawPublicUrl)}`)
      } else {
        publicUrl = parsed
      }
    } catch {
      problems.push(`MECHA_PUBLIC_URL is not a URL: ${JSON.stringify(rawPublicUrl)}`)
    }
  } else if (WILDCARD_HOSTS.has(host)) {
    warnings.push(`HOST=${host} listens on every interface, and without MECHA_PUBLIC_URL the public origin is ${publicUrl.origin}: no address a client can reach, and the @authority signed requests must carry. Set MECHA_PUBLIC_URL to the origin clients use`)
  }

  const redisUrl = set('REDIS_URL')
  const controlRedisUrl = set('MECHA_CONTROL_REDIS_URL')
  for (const [name, url] of [['REDIS_URL', redisUrl], ['MECHA_CONTROL_REDIS_URL', controlRedisUrl]] as const) {
    if (url === undefined) continue
    try {
      parseRedisUrl(url)
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`)
    }
  }
  if (controlRedisUrl !== undefined && redisUrl === undefined) problems.push('MECHA_CONTROL_REDIS_URL needs REDIS_URL (the data plane\'s Redis); unset both for the embedded store')

  const masterKey = parseMasterKey(set('MECHA_MASTER_KEY'), problems)
  if (production && masterKey === undefined && set('MECHA_MASTER_KEY') === undefined) {
    problems.push('MECHA_MASTER_KEY is required when NODE_ENV=production')
  }

  const role = value('MECHA_ROLE') ?? 'all'
  if (!(ROLES as readonly string[]).includes(role)) problems.push(`MECHA_ROLE must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`)
  const servesOperators = role !== 'gateway'
  const { tokens: operatorTokens, file: operatorTokensFile } = parseOperatorTokens(set, readFile, problems, warnings)
  const operatorVerifierPath = set('MECHA_OPERATOR_VERIFIER')
  // A gateway-role process serves no operator route, so it needs (and generates) no operator token.
  const generateOperatorToken = servesOperators && operatorTokens.length === 0 && operatorVerifierPath === undefined
  if (generateOperatorToken && production) {
    problems.push('no operator tokens configured: set MECHA_OPERATOR_TOKENS_JSON, MECHA_OPERATOR_TOKENS_FILE or MECHA_OPERATOR_VERIFIER (NODE_ENV=production never generates one)')
  }

  const timestampWindowSeconds = integer('MECHA_TIMESTAMP_WINDOW_SECONDS', 1, 3600)
  const maxFutureSkewSeconds = integer('MECHA_MAX_FUTURE_SKEW_SECONDS', 0, 3600)
  if (maxFutureSkewSeconds > timestampWindowSeconds) {
    problems.push(`MECHA_MAX_FUTURE_SKEW_SECONDS (${maxFutureSkewSeconds}) must not exceed MECHA_TIMESTAMP_WINDOW_SECONDS (${timestampWindowSeconds})`)
  }

  const config: Config = {
    host,
    port,
    environment: environment ?? 'development',
    production,
    role: (ROLES as readonly string[]).includes(role) ? (role as Role) : 'all',
    logLevel,
    logFormat,
    publicUrl: publicUrl.origin,
    publicAuthority: publicUrl.host,
    dataDir: value('MECHA_DATA_DIR') ?? './data',
    tls,
    redisUrl,
    controlRedisUrl,
    redisPrefix: value('MECHA_REDIS_PREFIX') ?? 'mecharim:',
    masterKey,
    operatorTokens,
    operatorTokensFile,
    operatorVerifierPath,
    generateOperatorToken,
    timestampWindowSeconds,
    maxFutureSkewSeconds,
    bodyLimitBytes: integer('MECHA_BODY_LIMIT_BYTES', 1024, 64 * 1024 * 1024),
    authFailureLimit: integer('MECHA_AUTH_FAILURE_LIMIT', 0, 1_000_000),
    // In development, unless set: a developer iterating on signing code from this machine is not locked out after 30 tries.
    authFailureLoopbackLimit: production || set('MECHA_AUTH_FAILURE_LIMIT') !== undefined ? integer('MECHA_AUTH_FAILURE_LIMIT', 0, 1_000_000) : DEV_LOOPBACK_AUTH_FAILURE_LIMIT,
    authFailureWindowSeconds: integer('MECHA_AUTH_FAILURE_WINDOW_SECONDS', 1, 86400),
    authFailureIpv6Prefix: integer('MECHA_AUTH_FAILURE_IPV6_PREFIX', 32, 128),
    openRateLimit: parseOpenRateLimit(value('MECHA_OPEN_RATE_LIMIT') ?? '600/60', problems),
    requestTimeoutSeconds: integer('MECHA_REQUEST_TIMEOUT_SECONDS', 31, 3600),
    headerLimitBytes: integer('MECHA_HEADER_LIMIT_BYTES', 4096, 1024 * 1024),
    wsIdleTimeoutSeconds: integer('MECHA_WS_IDLE_TIMEOUT_SECONDS', 5, 86400),
    wsMaxPerKey: integer('MECHA_WS_MAX_PER_KEY', 1, 10_000),
    wsMaxAgeSeconds: integer('MECHA_WS_MAX_AGE_SECONDS', 1, 86400),
    wsAuthTimeoutSeconds: integer('MECHA_WS_AUTH_TIMEOUT_SECONDS', 1, 60),
    shutdownGraceSeconds: integer('MECHA_SHUTDOWN_GRACE_SECONDS', 0, 600),
    visibilityTimeoutSeconds: integer('MECHA_VISIBILITY_TIMEOUT_SECONDS', 1, 43200),
    deliveryDefaults: {
      max_deliveries: integer('MECHA_MAX_DELIVERIES', DELIVERY_LIMITS.max_deliveries.min, DELIVERY_LIMITS.max_deliveries.max),
      backoff_seconds: backoffSeconds(value('MECHA_DELIVERY_BACKOFF_SECONDS') ?? '0', problems),
      visibility_seconds: integer('MECHA_VISIBILITY_TIMEOUT_SECONDS', 1, 43200),
      dead_letter_ttl_seconds: integer('MECHA_DEAD_LETTER_TTL_SECONDS', DELIVERY_LIMITS.dead_letter_ttl_seconds.min, DELIVERY_LIMITS.dead_letter_ttl_seconds.max),
    },
    durability: parseDurability(value('MECHA_DURABILITY') ?? 'everysec', problems),
    inboxLimit: integer('MECHA_INBOX_LIMIT', 1, 10_000_000),
    // At least 64 KiB, a default key's largest message (permissions.max_message_bytes).
    inboxMaxBytes: integer('MECHA_INBOX_MAX_BYTES', 64 * 1024, 2 ** 40),
    inboxSenderShare: parseShare('MECHA_INBOX_SENDER_SHARE', value('MECHA_INBOX_SENDER_SHARE') ?? '0.5', problems),
    storageHighWater: parseShare('MECHA_STORAGE_HIGH_WATER', value('MECHA_STORAGE_HIGH_WATER') ?? '0.9', problems),
    defaultKeyRateLimit: parseDefaultKeyRateLimit(value('MECHA_DEFAULT_KEY_RATE_LIMIT') ?? '100/1', problems),
    idempotencyTtlSeconds: integer('MECHA_IDEMPOTENCY_TTL_SECONDS', 60, 30 * 86400),
    keyCacheTtlSeconds: integer('MECHA_KEY_CACHE_TTL_SECONDS', 0, 3600),
    allowDevSenderHeader: parseDevSender(set('MECHA_ALLOW_DEV_SENDER_HEADER'), production, problems, warnings),
    trustProxy: parseTrustProxy(value('MECHA_TRUST_PROXY') ?? 'false'),
    metrics: parseMetrics(set('MECHA_METRICS') ?? (production ? `port:${PRODUCTION_METRICS_PORT}` : 'on'), problems),
    warnings,
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return deepFreeze(config)
}

function parseMasterKey(raw: string | undefined, problems: string[]): Buffer | undefined {
  if (raw === undefined) return undefined
  let bytes: Buffer | undefined
  if (/^[0-9a-fA-F]{64}$/.test(raw)) bytes = Buffer.from(raw, 'hex')
  else bytes = fromBase64url(raw.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'))
  if (bytes === undefined || bytes.length !== 32) {
    problems.push('MECHA_MASTER_KEY must be 32 bytes as 64 hex characters or base64/base64url (generate one with `openssl rand -hex 32`)')
    return undefined
  }
  return bytes
}

type AddToken = (source: string, index: number, token: string, operator: string, scopes: readonly OperatorScope[]) => void

/** Collects tokens into `tokens`, refusing short and repeated ones (`already` counts as listed). */
function tokenCollector(tokens: StaticOperatorToken[], already: readonly StaticOperatorToken[], problems: string[]): AddToken {
  const seen = new Set<string>(already.map((t) => t.digest.toString('hex')))
  return (source, index, token, operator, scopes) => {
    if (token.length < MIN_OPERATOR_TOKEN_LENGTH) {
      problems.push(`${source}: token #${index + 1} (operator ${JSON.stringify(operator)}) is shorter than ${MIN_OPERATOR_TOKEN_LENGTH} characters`)
      return
    }
    const digest = sha256(token)
    if (seen.has(digest.toString('hex'))) {
      problems.push(`${source}: token #${index + 1} (operator ${JSON.stringify(operator)}) is listed twice`)
      return
    }
    seen.add(digest.toString('hex'))
    tokens.push({ digest, identity: { operator, scopes } })
  }
}

/** Addresses that mean every interface: a listener's address, never one a client connects to. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::'])

/**
 * MECHA_PUBLIC_URL's default: the origin of the listener itself, `http(s)://HOST:PORT`; undefined when
 * HOST is no host (a URL would not parse, or would read part of it as a path or credentials).
 */
function listenerOrigin(host: string, port: number, tls: boolean): URL | undefined {
  let url: URL
  try {
    url = new URL(`${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`)
  } catch {
    return undefined
  }
  return url.pathname === '/' && url.username === '' && url.search === '' && url.hash === '' ? url : undefined
}

/**
 * The configuration once the port is chosen: PORT=0 leaves the choice to the system, and a public
 * origin that follows the port (no MECHA_PUBLIC_URL) is only known then. The discovery document and
 * the `@authority` of signed requests use it. A MECHA_PUBLIC_URL stays as it was set.
 */
export function withPort(config: Config, port: number): Config {
  const followsPort = config.publicUrl === listenerOrigin(config.host, config.port, config.tls !== undefined)?.origin
  const publicUrl = followsPort ? listenerOrigin(config.host, port, config.tls !== undefined) : undefined
  if (publicUrl === undefined) return Object.freeze({ ...config, port })
  return Object.freeze({ ...config, port, publicUrl: publicUrl.origin, publicAuthority: publicUrl.host })
}

/**
 * The contents of MECHA_OPERATOR_TOKENS_FILE, as read at start and on every reload. `alongside` are
 * the tokens configured elsewhere (MECHA_OPERATOR_TOKENS), which a file token must not repeat. The
 * problems name tokens by position and operator, never by value.
 */
export function parseOperatorTokensFile(text: string, alongside: readonly StaticOperatorToken[] = []): { tokens: StaticOperatorToken[]; problems: string[] } {
  const tokens: StaticOperatorToken[] = []
  const problems: string[] = []
  parseTokenMap('MECHA_OPERATOR_TOKENS_FILE', text, tokenCollector(tokens, alongside, problems), problems)
  return { tokens, problems }
}

function parseOperatorTokens(
  set: (name: VariableName) => string | undefined,
  readFile: (path: string) => string,
  problems: string[],
  warnings: string[],
): { tokens: StaticOperatorToken[]; file: Config['operatorTokensFile'] } {
  const json = set('MECHA_OPERATOR_TOKENS_JSON')
  const file = set('MECHA_OPERATOR_TOKENS_FILE')
  const legacy = set('MECHA_OPERATOR_TOKENS')
  if (json !== undefined && file !== undefined) {
    problems.push('MECHA_OPERATOR_TOKENS_JSON and MECHA_OPERATOR_TOKENS_FILE are both set: choose one')
    return { tokens: [], file: undefined }
  }
  const legacyTokens: StaticOperatorToken[] = []
  if (legacy !== undefined) {
    warnings.push('MECHA_OPERATOR_TOKENS is deprecated: its tokens act as operator "unattributed"; use MECHA_OPERATOR_TOKENS_JSON for an audit trail that names operators')
    const add = tokenCollector(legacyTokens, [], problems)
    legacy.split(',').map((t) => t.trim()).filter((t) => t !== '')
      .forEach((token, i) => add('MECHA_OPERATOR_TOKENS', i, token, 'unattributed', OPERATOR_SCOPES))
  }
  const tokens: StaticOperatorToken[] = []
  if (json !== undefined) parseTokenMap('MECHA_OPERATOR_TOKENS_JSON', json, tokenCollector(tokens, legacyTokens, problems), problems)
  if (file !== undefined) {
    try {
      const parsed = parseOperatorTokensFile(readFile(file), legacyTokens)
      tokens.push(...parsed.tokens)
      problems.push(...parsed.problems)
    } catch (err) {
      problems.push(`MECHA_OPERATOR_TOKENS_FILE: cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  return { tokens: [...tokens, ...legacyTokens], file: file === undefined ? undefined : { path: file, alongside: legacyTokens } }
}

function parseTokenMap(
  source: string,
  text: string,
  add: AddToken,
  problems: string[],
): void {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    problems.push(`${source} is not valid JSON`)
    return
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`${source} must be a JSON object mapping tokens to operators`)
    return
  }
  Object.entries(parsed).forEach(([token, spec], i) => {
    if (typeof spec === 'string') {
      if (!isOperatorName(spec)) problems.push(`${source}: token #${i + 1} has an invalid operator name`)
      else add(source, i, token, spec, OPERATOR_SCOPES)
      return
    }
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      problems.push(`${source}: token #${i + 1} must map to an operator name or {operator, scopes}`)
      return
    }
    const { operator, scopes } = spec as { operator?: unknown; scopes?: unknown }
    if (typeof operator !== 'string' || !isOperatorName(operator)) {
      problems.push(`${source}: token #${i + 1} needs "operator": a name of 1-64 characters`)
      return
    }
    if (scopes === undefined) {
      add(source, i, token, operator, OPERATOR_SCOPES)
      return
    }
    if (!Array.isArray(scopes) || !scopes.every((s): s is OperatorScope => (OPERATOR_SCOPES as readonly unknown[]).includes(s))) {
      problems.push(`${source}: token #${i + 1} (operator ${JSON.stringify(operator)}) has scopes outside ${OPERATOR_SCOPES.join(', ')}`)
      return
    }
    add(source, i, token, operator, [...new Set(scopes)])
  })
}

export function isOperatorName(name: string): boolean {
  return /^[\w.@+-]{1,64}$/.test(name)
}

/**
 * Plain HTTP would carry operator tokens and Mecha tokens in the clear: production serves it only
 * when MECHA_TLS=proxy says TLS is terminated in front. The files are read (and the pair checked)
 * when the server starts, by the same code that reloads them.
 */
function parseTls(set: (name: VariableName) => string | undefined, production: boolean, problems: string[]): Config['tls'] {
  const certPath = set('MECHA_TLS_CERT_PATH')
  const keyPath = set('MECHA_TLS_KEY_PATH')
  const mode = set('MECHA_TLS')
  if (mode !== undefined && mode !== 'proxy') problems.push(`MECHA_TLS must be proxy (TLS terminated in front) or unset, got ${JSON.stringify(mode)}`)
  if (certPath === undefined && keyPath !== undefined) problems.push('MECHA_TLS_CERT_PATH is not set: MECHA_TLS_KEY_PATH needs the certificate it belongs to (set both or neither)')
  if (keyPath === undefined && certPath !== undefined) problems.push('MECHA_TLS_KEY_PATH is not set: MECHA_TLS_CERT_PATH needs its private key (set both or neither)')
  if (certPath === undefined || keyPath === undefined) {
    if (production && mode !== 'proxy' && certPath === undefined && keyPath === undefined) {
      problems.push('NODE_ENV=production does not serve plain HTTP: set MECHA_TLS_CERT_PATH and MECHA_TLS_KEY_PATH, or MECHA_TLS=proxy if TLS is terminated in front of Mecharim')
    }
    return undefined
  }
  if (mode === 'proxy') problems.push('MECHA_TLS=proxy and MECHA_TLS_CERT_PATH are both set: choose where TLS is terminated')
  return { certPath, keyPath }
}

function parseDurability(raw: string, problems: string[]): DurabilityLevel {
  if ((DURABILITY_LEVELS as readonly string[]).includes(raw)) return raw as DurabilityLevel
  problems.push(`MECHA_DURABILITY must be one of ${DURABILITY_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`)
  return 'everysec'
}

function parseMetrics(raw: string, problems: string[]): Config['metrics'] {
  if (raw === 'on' || raw === 'off') return { mode: raw }
  const port = /^port:(\d{1,5})$/.exec(raw)
  if (port !== null && Number(port[1]) > 0 && Number(port[1]) <= 65535) return { mode: 'port', port: Number(port[1]) }
  problems.push(`MECHA_METRICS must be on, off or port:<1-65535>, got ${JSON.stringify(raw)}`)
  return { mode: 'off' }
}

function parseOpenRateLimit(raw: string, problems: string[]): Config['openRateLimit'] {
  const rate = parseRate('MECHA_OPEN_RATE_LIMIT', '600/60', raw, problems)
  return rate === null ? undefined : { limit: rate.requests, windowSeconds: rate.seconds }
}

function parseDefaultKeyRateLimit(raw: string, problems: string[]): Config['defaultKeyRateLimit'] {
  const rate = parseRate('MECHA_DEFAULT_KEY_RATE_LIMIT', '100/1', raw, problems)
  // The ranges are the key schema's rate_limit (src/schemas/common.ts).
  return rate === null ? null : { requests: rate.requests, per_seconds: rate.seconds }
}

/** `off`, or `<requests 1-1000000>/<seconds 1-86400>`; null for off (or a problem). */
function parseRate(name: VariableName, example: string, raw: string, problems: string[]): { requests: number; seconds: number } | null {
  if (raw === 'off') return null
  const match = /^(\d{1,7})\/(\d{1,5})$/.exec(raw)
  const requests = Number(match?.[1])
  const seconds = Number(match?.[2])
  if (match === null || requests < 1 || requests > 1_000_000 || seconds < 1 || seconds > 86400) {
    problems.push(`${name} must be off or <requests 1-1000000>/<seconds 1-86400> (e.g. ${example}), got ${JSON.stringify(raw)}`)
    return null
  }
  return { requests, seconds }
}

function backoffSeconds(raw: string, problems: string[]): number[] {
  const waits = parseBackoff(raw)
  if (waits === undefined) {
    const { maxItems, max } = DELIVERY_LIMITS.backoff_seconds
    problems.push(`MECHA_DELIVERY_BACKOFF_SECONDS must be at most ${maxItems} comma-separated seconds, each 0 to ${max} (e.g. 5,30,300; 0 for no wait), got ${JSON.stringify(raw)}`)
    return []
  }
  return waits
}

/** A share: a decimal above 0 and at most 1. */
function parseShare(name: VariableName, raw: string, problems: string[]): number {
  const share = /^(0(\.\d+)?|1(\.0+)?)$/.test(raw) ? Number(raw) : Number.NaN
  if (!(share > 0 && share <= 1)) {
    problems.push(`${name} must be a decimal above 0 and at most 1 (e.g. 0.5), got ${JSON.stringify(raw)}`)
    return 1
  }
  return share
}

function parseTrustProxy(raw: string): boolean | string[] {
  if (raw === 'true') return true
  if (raw === 'false') return false
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value) && !Buffer.isBuffer(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

/** The failed-authentication limit of loopback clients in development when MECHA_AUTH_FAILURE_LIMIT is unset. */
const DEV_LOOPBACK_AUTH_FAILURE_LIMIT = 300

/** `1` or unset; never with NODE_ENV=production, and loud when on. */
function parseDevSender(raw: string | undefined, production: boolean, problems: string[], warnings: string[]): boolean {
  if (raw === undefined || raw === '0') return false
  if (raw !== '1') {
    problems.push(`MECHA_ALLOW_DEV_SENDER_HEADER must be 1 or unset, got ${JSON.stringify(raw)}`)
    return false
  }
  if (production) {
    problems.push('MECHA_ALLOW_DEV_SENDER_HEADER=1 is refused with NODE_ENV=production: it lets any caller act as any mecha without a key')
    return false
  }
  warnings.push('!!! MECHA_ALLOW_DEV_SENDER_HEADER=1: any caller that sends `Mecha-Dev-Sender: <mecha id>` acts as that mecha with every permission, without a key. Development only; every such request is logged and audited as dev_sender. !!!')
  return true
}
