import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../../src/config/load.js'

const TOKEN = 't'.repeat(40)
const problemsOf = (env: Record<string, string>, readFile?: (p: string) => string): string[] => {
  try {
    loadConfig(env, readFile !== undefined ? { readFile } : {})
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems]
    throw err
  }
  return []
}

describe('config: defaults', () => {
  it('runs with no configuration in development, generating an operator token', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      host: '127.0.0.1', port: 8080, production: false, dataDir: './data', redisUrl: undefined,
      redisPrefix: 'mecharim:', timestampWindowSeconds: 300, generateOperatorToken: true, authFailureIpv6Prefix: 64,
      publicUrl: 'http://127.0.0.1:8080', publicAuthority: '127.0.0.1:8080',
    })
  })
  it('is frozen', () => {
    const config = loadConfig({})
    expect(Object.isFrozen(config)).toBe(true)
    expect(() => { (config as { port: number }).port = 1 }).toThrow()
  })
})

describe('config: MECHA_LOG_FORMAT', () => {
  it('is unset by default (chosen at start from the environment and the terminal)', () => {
    expect(loadConfig({}).logFormat).toBeUndefined()
  })
  it.each(['json', 'pretty'])('takes %s', (format) => {
    expect(loadConfig({ MECHA_LOG_FORMAT: format }).logFormat).toBe(format)
  })
})

describe('config: operator tokens', () => {
  it('reads the JSON long and short forms', () => {
    const config = loadConfig({ MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [TOKEN]: 'alice', [`${TOKEN}2`]: { operator: 'bob', scopes: ['keys:read'] } }) })
    expect(config.operatorTokens.map((t) => t.identity)).toEqual([
      { operator: 'alice', scopes: ['keys:read', 'keys:write', 'audit:read'] },
      { operator: 'bob', scopes: ['keys:read'] },
    ])
    expect(config.generateOperatorToken).toBe(false)
    expect(JSON.stringify(config)).not.toContain(TOKEN)
  })
  it('reads a tokens file', () => {
    const config = loadConfig({ MECHA_OPERATOR_TOKENS_FILE: '/etc/tokens.json' }, { readFile: () => JSON.stringify({ [TOKEN]: 'carol' }) })
    expect(config.operatorTokens[0]?.identity.operator).toBe('carol')
  })
  it('refuses JSON and FILE together', () => {
    expect(problemsOf({ MECHA_OPERATOR_TOKENS_JSON: '{}', MECHA_OPERATOR_TOKENS_FILE: '/x' })).toEqual([
      'MECHA_OPERATOR_TOKENS_JSON and MECHA_OPERATOR_TOKENS_FILE are both set: choose one',
    ])
  })
  it('refuses a short token without echoing it', () => {
    const problems = problemsOf({ MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ shortsecret: 'alice' }) })
    expect(problems[0]).toContain('MECHA_OPERATOR_TOKENS_JSON: token #1 (operator "alice") is shorter than 32 characters')
    expect(problems.join()).not.toContain('shortsecret')
  })
  it.each([
    ['not json', 'is not valid JSON'],
    ['[]', 'must be a JSON object'],
    [JSON.stringify({ [TOKEN]: { operator: 'a', scopes: ['root'] } }), 'has scopes outside'],
    [JSON.stringify({ [TOKEN]: { scopes: [] } }), 'needs "operator"'],
    [JSON.stringify({ [TOKEN]: 5 }), 'must map to an operator name'],
  ])('refuses %j', (json, message) => {
    expect(problemsOf({ MECHA_OPERATOR_TOKENS_JSON: json }).join()).toContain(message)
  })
  it('maps legacy tokens to "unattributed" with a deprecation warning', () => {
    const config = loadConfig({ MECHA_OPERATOR_TOKENS: `${TOKEN}a, ${TOKEN}b` })
    expect(config.operatorTokens.map((t) => t.identity.operator)).toEqual(['unattributed', 'unattributed'])
    expect(config.warnings[0]).toContain('deprecated')
  })
  it('names an unreadable tokens file', () => {
    const problems = problemsOf({ MECHA_OPERATOR_TOKENS_FILE: '/nope.json' }, () => { throw Object.assign(new Error('x'), { code: 'ENOENT' }) })
    expect(problems).toEqual(['MECHA_OPERATOR_TOKENS_FILE: cannot read "/nope.json" (ENOENT)'])
  })
})

describe('config: NODE_ENV', () => {
  it.each(['development', 'test'])('%s runs development mode', (nodeEnv) => {
    expect(loadConfig({ NODE_ENV: nodeEnv })).toMatchObject({ production: false, environment: nodeEnv })
  })
  it('production runs production mode', () => {
    const config = loadConfig({ NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_MASTER_KEY: 'ab'.repeat(32), MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [TOKEN]: 'ops' }) })
    expect(config).toMatchObject({ production: true, environment: 'production' })
  })
  // Regression: NODE_ENV=prod or Production silently ran development mode (issue 11).
  it.each(['prod', 'Production', 'staging', 'dev'])('%s stops the start naming the variable', (nodeEnv) => {
    expect(problemsOf({ NODE_ENV: nodeEnv })).toContain(`NODE_ENV must be development, production or test, got ${JSON.stringify(nodeEnv)}`)
  })
})

describe('config: production', () => {
  it('refuses to start without operator tokens or a master key', () => {
    const problems = problemsOf({ NODE_ENV: 'production' })
    expect(problems.some((p) => p.startsWith('MECHA_MASTER_KEY is required'))).toBe(true)
    expect(problems.some((p) => p.startsWith('no operator tokens configured'))).toBe(true)
  })
  it('starts with both', () => {
    const config = loadConfig({ NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_MASTER_KEY: 'ab'.repeat(32), MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [TOKEN]: 'ops' }) })
    expect(config.production).toBe(true)
    expect(config.masterKey?.length).toBe(32)
  })
})

describe('config: TLS', () => {
  const production = { NODE_ENV: 'production', MECHA_MASTER_KEY: 'ab'.repeat(32), MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [TOKEN]: 'ops' }) }
  it('defaults the public URL to https with a certificate', () => {
    const config = loadConfig({ MECHA_TLS_CERT_PATH: '/tls/crt', MECHA_TLS_KEY_PATH: '/tls/key' })
    expect(config.tls).toEqual({ certPath: '/tls/crt', keyPath: '/tls/key' })
    expect(config.publicUrl).toBe('https://127.0.0.1:8080')
  })
  it('wants both paths or neither, naming the missing one', () => {
    expect(problemsOf({ MECHA_TLS_KEY_PATH: '/tls/key' })).toEqual([expect.stringMatching(/^MECHA_TLS_CERT_PATH is not set/)])
    expect(problemsOf({ MECHA_TLS_CERT_PATH: '/tls/crt' })).toEqual([expect.stringMatching(/^MECHA_TLS_KEY_PATH is not set/)])
  })
  it('refuses plain HTTP in production unless MECHA_TLS=proxy', () => {
    expect(problemsOf(production)).toEqual([expect.stringContaining('MECHA_TLS=proxy if TLS is terminated in front')])
    expect(loadConfig({ ...production, MECHA_TLS: 'proxy' }).tls).toBeUndefined()
    expect(loadConfig({ ...production, MECHA_TLS_CERT_PATH: '/tls/crt', MECHA_TLS_KEY_PATH: '/tls/key' }).publicUrl).toBe('https://127.0.0.1:8080')
  })
  it('refuses other MECHA_TLS values, and proxy with a certificate', () => {
    expect(problemsOf({ MECHA_TLS: 'on' })).toEqual(['MECHA_TLS must be proxy (TLS terminated in front) or unset, got "on"'])
    expect(problemsOf({ MECHA_TLS: 'proxy', MECHA_TLS_CERT_PATH: '/c', MECHA_TLS_KEY_PATH: '/k' })).toEqual([expect.stringContaining('choose where TLS is terminated')])
  })
})

describe('config: bad values name their variable', () => {
  it.each([
    [{ PORT: 'eighty' }, 'PORT must be an integer'],
    [{ PORT: '70000' }, 'PORT must be an integer'],
    [{ MECHA_TIMESTAMP_WINDOW_SECONDS: '0' }, 'MECHA_TIMESTAMP_WINDOW_SECONDS must be an integer from 1'],
    [{ MECHA_AUTH_FAILURE_IPV6_PREFIX: '16' }, 'MECHA_AUTH_FAILURE_IPV6_PREFIX must be an integer from 32 to 128'],
    [{ MECHA_AUTH_FAILURE_IPV6_PREFIX: '129' }, 'MECHA_AUTH_FAILURE_IPV6_PREFIX must be an integer from 32 to 128'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
    [{ MECHA_LOG_FORMAT: 'text' }, 'MECHA_LOG_FORMAT must be json or pretty, got "text"'],
    [{ MECHA_PUBLIC_URL: 'ftp://x' }, 'MECHA_PUBLIC_URL must be an http(s) origin'],
    [{ MECHA_PUBLIC_URL: 'https://x/path' }, 'MECHA_PUBLIC_URL must be an http(s) origin'],
    [{ MECHA_PUBLIC_URL: 'not a url' }, 'MECHA_PUBLIC_URL is not a URL'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL: expected a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL'],
    [{ REDIS_URL: 'redis+cluster://a:1,b:99999/' }, 'REDIS_URL: a Redis Cluster seed must be host or host:port, got "b:99999"'],
    [{ REDIS_URL: 'redis+cluster://a:1/0' }, 'REDIS_URL: expected a redis://'],
    [{ MECHA_CONTROL_REDIS_URL: 'redis://c:6379' }, 'MECHA_CONTROL_REDIS_URL needs REDIS_URL'],
    [{ REDIS_URL: 'redis://a', MECHA_CONTROL_REDIS_URL: 'http://c' }, 'MECHA_CONTROL_REDIS_URL: expected a redis://'],
    [{ MECHA_MASTER_KEY: 'short' }, 'MECHA_MASTER_KEY must be 32 bytes'],
    [{ MECHA_DURABILITY: 'always' }, 'MECHA_DURABILITY must be one of fsync, everysec, memory, got "always"'],
  ])('%j', (env, message) => {
    const problems = problemsOf(env as Record<string, string>)
    expect(problems.join('\n')).toContain(message)
  })
  it('reports every problem at once', () => {
    expect(problemsOf({ PORT: 'x', LOG_LEVEL: 'y' })).toHaveLength(2)
  })
  it('accepts a base64 master key and a public URL', () => {
    const config = loadConfig({ MECHA_MASTER_KEY: Buffer.alloc(32, 1).toString('base64'), MECHA_PUBLIC_URL: 'https://gw.example.com' })
    expect(config.masterKey).toEqual(Buffer.alloc(32, 1))
    expect(config).toMatchObject({ publicUrl: 'https://gw.example.com', publicAuthority: 'gw.example.com' })
  })
})

describe('config: MECHA_OPEN_RATE_LIMIT', () => {
  it('defaults to 600 requests per 60 s per address', () => {
    expect(loadConfig({}).openRateLimit).toEqual({ limit: 600, windowSeconds: 60 })
  })
  it('reads <requests>/<seconds>, and off', () => {
    expect(loadConfig({ MECHA_OPEN_RATE_LIMIT: '20/1' }).openRateLimit).toEqual({ limit: 20, windowSeconds: 1 })
    expect(loadConfig({ MECHA_OPEN_RATE_LIMIT: 'off' }).openRateLimit).toBeUndefined()
  })
  it.each(['600', '0/60', '10/0', '10/86401', '-1/60', '10/60s', 'on'])('refuses %j, naming the variable', (raw) => {
    expect(problemsOf({ MECHA_OPEN_RATE_LIMIT: raw })).toEqual([
      `MECHA_OPEN_RATE_LIMIT must be off or <requests 1-1000000>/<seconds 1-86400> (e.g. 600/60), got ${JSON.stringify(raw)}`,
    ])
  })
})

describe('config: inbox budgets', () => {
  it('defaults to 64 MiB per inbox and half of it, and of MECHA_INBOX_LIMIT, per sender', () => {
    const config = loadConfig({})
    expect([config.inboxMaxBytes, config.inboxSenderShare]).toEqual([64 * 1024 * 1024, 0.5])
  })
  it('reads MECHA_INBOX_MAX_BYTES and MECHA_INBOX_SENDER_SHARE', () => {
    const config = loadConfig({ MECHA_INBOX_MAX_BYTES: '1048576', MECHA_INBOX_SENDER_SHARE: '1' })
    expect([config.inboxMaxBytes, config.inboxSenderShare]).toEqual([1048576, 1])
    expect(loadConfig({ MECHA_INBOX_SENDER_SHARE: '0.25' }).inboxSenderShare).toBe(0.25)
  })
  it.each(['0', '1.5', '-0.1', 'half'])('refuses MECHA_INBOX_SENDER_SHARE=%j, naming the variable', (raw) => {
    expect(problemsOf({ MECHA_INBOX_SENDER_SHARE: raw }).join('\n')).toMatch(/^MECHA_INBOX_SENDER_SHARE/)
  })
  it('refuses a byte budget below the largest message', () => {
    expect(problemsOf({ MECHA_INBOX_MAX_BYTES: '1000' }).join('\n')).toMatch(/^MECHA_INBOX_MAX_BYTES/)
  })
})

describe('config: MECHA_STORAGE_HIGH_WATER', () => {
  it('defaults to 0.9 and reads a share', () => {
    expect(loadConfig({}).storageHighWater).toBe(0.9)
    expect(loadConfig({ MECHA_STORAGE_HIGH_WATER: '0.75' }).storageHighWater).toBe(0.75)
    expect(loadConfig({ MECHA_STORAGE_HIGH_WATER: '1' }).storageHighWater).toBe(1)
  })
  it.each(['0', '1.01', '90%', '9e-1'])('refuses %j, naming the variable', (raw) => {
    expect(problemsOf({ MECHA_STORAGE_HIGH_WATER: raw })).toEqual([
      `MECHA_STORAGE_HIGH_WATER must be a decimal above 0 and at most 1 (e.g. 0.5), got ${JSON.stringify(raw)}`,
    ])
  })
})

describe('config: MECHA_DEFAULT_KEY_RATE_LIMIT', () => {
  it('defaults to 100 requests per second', () => {
    expect(loadConfig({}).defaultKeyRateLimit).toEqual({ requests: 100, per_seconds: 1 })
  })
  it('reads <requests>/<seconds>, and off (keys issued without one are not limited)', () => {
    expect(loadConfig({ MECHA_DEFAULT_KEY_RATE_LIMIT: '20/60' }).defaultKeyRateLimit).toEqual({ requests: 20, per_seconds: 60 })
    expect(loadConfig({ MECHA_DEFAULT_KEY_RATE_LIMIT: 'off' }).defaultKeyRateLimit).toBeNull()
  })
  it.each(['100', '0/1', '10/86401', 'on'])('refuses %j, naming the variable', (raw) => {
    expect(problemsOf({ MECHA_DEFAULT_KEY_RATE_LIMIT: raw })).toEqual([
      `MECHA_DEFAULT_KEY_RATE_LIMIT must be off or <requests 1-1000000>/<seconds 1-86400> (e.g. 100/1), got ${JSON.stringify(raw)}`,
    ])
  })
})

describe('config: MECHA_METRICS', () => {
  const production = { NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_MASTER_KEY: 'ab'.repeat(32), MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [TOKEN]: 'alice' }) }
  it('defaults to the main listener in development', () => {
    expect(loadConfig({}).metrics).toEqual({ mode: 'on' })
  })
  it('defaults to a separate listener on port 9464 in production', () => {
    expect(loadConfig(production).metrics).toEqual({ mode: 'port', port: 9464 })
  })
  it('keeps an explicit choice in production', () => {
    expect(loadConfig({ ...production, MECHA_METRICS: 'on' }).metrics).toEqual({ mode: 'on' })
    expect(loadConfig({ ...production, MECHA_METRICS: 'off' }).metrics).toEqual({ mode: 'off' })
    expect(loadConfig({ ...production, MECHA_METRICS: 'port:9100' }).metrics).toEqual({ mode: 'port', port: 9100 })
  })
  it('refuses a bad value in either mode', () => {
    expect(problemsOf({ ...production, MECHA_METRICS: 'yes' })).toEqual(['MECHA_METRICS must be on, off or port:<1-65535>, got "yes"'])
  })
})

describe('config: a wildcard HOST without MECHA_PUBLIC_URL', () => {
  // The default public origin is http://HOST:PORT: with HOST=0.0.0.0 (the Dockerfile's) it names no
  // address a client can reach, and a signed request's @authority would have to be 0.0.0.0:8080.
  it.each(['0.0.0.0', '::'])('HOST=%s warns that the public origin needs MECHA_PUBLIC_URL', (host) => {
    const config = loadConfig({ HOST: host })
    expect(config.warnings.filter((w) => w.includes('MECHA_PUBLIC_URL'))).toHaveLength(1)
  })
  it('no warning once MECHA_PUBLIC_URL is set, or with a HOST clients can reach', () => {
    expect(loadConfig({ HOST: '0.0.0.0', MECHA_PUBLIC_URL: 'https://gateway.example' }).warnings.filter((w) => w.includes('MECHA_PUBLIC_URL'))).toEqual([])
    expect(loadConfig({ HOST: '127.0.0.1' }).warnings.filter((w) => w.includes('MECHA_PUBLIC_URL'))).toEqual([])
  })
})

describe('config: HOST', () => {
  // It was a TypeError ("Invalid URL") out of loadConfig, not a problem naming the variable.
  it.each(['[::]', 'a b', 'host/path'])('HOST=%s is a problem that names HOST', (host) => {
    expect(problemsOf({ HOST: host }).filter((p) => p.startsWith('HOST '))).toHaveLength(1)
  })
})
