import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { parseToken } from '../../src/crypto/token.js'
import { buildApp } from '../../src/app.js'
import { OperatorAuthenticator } from '../../src/control-plane/operator-auth.js'
import { ControlPlane } from '../../src/control-plane/service.js'
import { SecretSealer } from '../../src/crypto/sealed-secret.js'
import { gatewayOptions } from '../../src/gateway/build.js'
import { startServer } from '../../src/server.js'
import { VERIFICATION_BUCKETS_SECONDS } from '../../src/observability/recorder.js'
import { OPERATORS, OPERATOR_TOKENS_JSON, admin, testApp, type TestApp } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** The samples of a Prometheus 0.0.4 exposition (label values here never hold `"`, `,` or `}`). */
function samples(text: string): Sample[] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not an exposition line: ${line}`)
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    return { name: match[1] as string, labels, value: Number(match[3]) }
  })
}

/** The value of the one sample with this name and exactly these labels, or undefined. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort())
  const found = samples(text).filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted)
  if (found.length > 1) throw new Error(`${name} ${wanted} appears ${found.length} times`)
  return found[0]?.value
}

async function scrape(t: TestApp): Promise<string> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' })
  expect(res.statusCode).toBe(200)
  return res.body
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

const requests = 'mecharim_http_requests_total'

describe('MECHA_METRICS=on: GET /metrics on the main app', () => {
  let h: GatewayHarness
  let alpha: IssuedRuntime

  beforeAll(async () => {
    h = await gatewayHarness()
    await h.register('alpha')
    alpha = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256'] } })
  })
  afterAll(async () => { await h.close() })

  it('serves the 0.0.4 text exposition, never cached', async () => {
    const res = await h.t.app.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.body).toContain('# TYPE mecharim_http_requests_total counter')
  })

  it('counts control-plane requests by route pattern, method, status class and access', async () => {
    expect((await h.t.app.inject({ method: 'GET', url: '/v1/mechas/alpha', headers: admin })).statusCode).toBe(200)
    expect((await h.t.app.inject({ method: 'GET', url: '/v1/mechas/alpha' })).statusCode).toBe(401)
    const text = await scrape(h.t)
    expect(value(text, requests, { route: '/v1/mechas', method: 'POST', status_class: '2xx', access: 'operator' })).toBe(1)
    expect(value(text, requests, { route: '/v1/mechas/:id/keys', method: 'POST', status_class: '2xx', access: 'operator' })).toBe(1)
    expect(value(text, requests, { route: '/v1/mechas/:id', method: 'GET', status_class: '2xx', access: 'operator' })).toBe(1)
    expect(value(text, requests, { route: '/v1/mechas/:id', method: 'GET', status_class: '4xx', access: 'operator' })).toBe(1)
    // the pattern, never the requested path
    expect(text).not.toContain('/v1/mechas/alpha')
  })

  it('counts runtime requests and times verification for accepted and refused ones', async () => {
    const before = await scrape(h.t)
    const refused = await h.call({ method: 'GET', url: '/v1/whoami', credentials: alpha, tamper: (headers) => { delete headers.authorization } })
    expect(refused.body.reason).toBe('missing_credentials')
    expect((await h.call({ method: 'GET', url: '/v1/whoami', credentials: alpha, auth: 'hmac-sha256' })).status).toBe(200)
    expect((await h.call({ method: 'GET', url: '/v1/whoami', credentials: alpha })).status).toBe(200)

    const text = await scrape(h.t)
    expect(value(text, requests, { route: '/v1/whoami', method: 'GET', status_class: '2xx', access: 'runtime' })).toBe(2)
    expect(value(text, requests, { route: '/v1/whoami', method: 'GET', status_class: '4xx', access: 'runtime' })).toBe(1)
    expect(value(text, 'mecharim_refusals_total', { reason: 'missing_credentials' })).toBeGreaterThanOrEqual(2)
    const count = (outcome: string, t: string): number => value(t, 'mecharim_verification_seconds_count', { access: 'runtime', outcome }) ?? 0
    expect(count('accepted', text) - count('accepted', before)).toBe(2)
    expect(count('refused', text) - count('refused', before)).toBe(1)
    const sum = value(text, 'mecharim_verification_seconds_sum', { access: 'runtime', outcome: 'accepted' }) ?? 0
    expect(sum).toBeGreaterThan(0)
    expect(sum).toBeLessThan(5)
    const bounds = samples(text).filter((s) => s.name === 'mecharim_verification_seconds_bucket' && s.labels.outcome === 'accepted').map((s) => s.labels.le)
    expect(bounds).toEqual([...VERIFICATION_BUCKETS_SECONDS.map(String), '+Inf'])
  })

  it('a runtime request refused after authentication is timed as accepted (verification passed)', async () => {
    const before = await scrape(h.t)
    const res = await h.send(alpha, { to: 'nobody', kind: 'k', payload: 1 })
    expect(res.status).toBeGreaterThanOrEqual(400)
    const text = await scrape(h.t)
    const count = (outcome: string, t: string): number => value(t, 'mecharim_verification_seconds_count', { access: 'runtime', outcome }) ?? 0
    expect(count('accepted', text) - count('accepted', before)).toBe(1)
    expect(count('refused', text) - count('refused', before)).toBe(0)
    expect(value(text, 'mecharim_refusals_total', { reason: res.body.reason })).toBeGreaterThanOrEqual(1)
  })

  it('labels unknown paths `unmatched`, so cardinality stays bounded', async () => {
    for (const path of ['/nope', '/nope/1', '/v1/mechas/alpha/unknown']) {
      expect((await h.t.app.inject({ method: 'GET', url: path })).json().reason).toBe('route_not_found')
    }
    const text = await scrape(h.t)
    expect(value(text, requests, { route: 'unmatched', method: 'GET', status_class: '4xx', access: 'none' })).toBe(3)
    expect(value(text, 'mecharim_refusals_total', { reason: 'route_not_found' })).toBe(3)
    expect(text).not.toContain('/nope')
  })

  it('counts each response once, the implicit HEAD route separately', async () => {
    const at = async (method: string): Promise<number> => value(await scrape(h.t), requests, { route: '/healthz', method, status_class: '2xx', access: 'open' }) ?? 0
    const [get, head] = [await at('GET'), await at('HEAD')]
    for (let i = 0; i < 3; i++) await h.t.app.inject({ method: 'GET', url: '/healthz' })
    await h.t.app.inject({ method: 'HEAD', url: '/healthz' })
    expect(await at('GET')).toBe(get + 3)
    expect(await at('HEAD')).toBe(head + 1)
  })

  it('exports the dependency error counters at 0 and the default Node process metrics', async () => {
    const text = await scrape(h.t)
    for (const dependency of ['store', 'replay_cache', 'transport']) {
      expect(value(text, 'mecharim_dependency_errors_total', { dependency })).toBe(0)
    }
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter')
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge')
    expect(text).toContain('# TYPE nodejs_heap_size_used_bytes gauge')
  })

  it('keeps a registry per app: a second app in the same process starts from zero', async () => {
    const other = await testApp({ LOG_LEVEL: 'silent' })
    try {
      const text = await scrape(other)
      expect(value(text, requests, { route: '/v1/whoami', method: 'GET', status_class: '2xx', access: 'runtime' })).toBeUndefined()
      expect(value(await scrape(h.t), requests, { route: '/v1/whoami', method: 'GET', status_class: '2xx', access: 'runtime' })).toBeGreaterThan(0)
    } finally {
      await other.close()
    }
  })
})

describe('dependency errors', () => {
  it('a refusal with store_unavailable, replay_cache_unavailable or transport_unavailable counts its dependency', async () => {
    // /readyz answers a failing probe with the dependency's refusal reason, like any 503 fault.
    const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-metrics-'))
    const t = await testApp({ LOG_LEVEL: 'silent' }, { dataDir })
    const sealer = new SecretSealer(t.masterKey)
    const gateway = gatewayOptions(t.config, t.stores, sealer)
    const failing = (['store', 'replay_cache', 'transport'] as const).map((name) => ({
      name, reason: `${name}_unavailable` as const, ping: async (): Promise<void> => { throw new Error('down') },
    }))
    const app = await buildApp(t.config, {
      store: t.store, controlPlane: new ControlPlane({ store: t.store, sealer }), authenticator: new OperatorAuthenticator(t.config.operatorTokens), gateway, probes: failing, durability: t.stores.durability, rateLimiter: t.stores.rateLimiter,
    })
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' })
      expect(res.statusCode).toBe(503)
      expect(res.json().reason).toBe('store_unavailable')
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
      expect(value(text, 'mecharim_dependency_errors_total', { dependency: 'store' })).toBe(1)
      expect(value(text, 'mecharim_dependency_errors_total', { dependency: 'replay_cache' })).toBe(0)
      expect(value(text, 'mecharim_refusals_total', { reason: 'store_unavailable' })).toBe(1)
      expect(value(text, requests, { route: '/readyz', method: 'GET', status_class: '5xx', access: 'open' })).toBe(1)
    } finally {
      await app.close()
      gateway.close()
      await t.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe('secret hygiene', () => {
  it('no token, signing secret or operator token appears in the metrics text', async () => {
    const h = await gatewayHarness()
    try {
      await h.register('alpha')
      const issued = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256', 'ed25519'] } })
      const rotated = (await h.t.app.inject({ method: 'POST', url: `/v1/keys/${issued.keyId}/rotate`, headers: admin, payload: { grace_seconds: 60 } })).json()
      expect(await h.call({ method: 'GET', url: '/v1/whoami', credentials: issued, auth: 'token+hmac-sha256' })).toMatchObject({ status: 200 })
      expect(await h.call({ method: 'GET', url: '/v1/whoami', credentials: issued, auth: 'ed25519' })).toMatchObject({ status: 200 })
      await h.call({ method: 'GET', url: '/v1/whoami', credentials: { keyId: issued.keyId, token: `${issued.token as string}x` } })
      const text = await scrape(h.t)
      const secrets = [OPERATORS.admin, issued.token, issued.signingSecret, rotated.token, rotated.signing_secret] as string[]
      for (const token of [issued.token, rotated.token] as string[]) {
        const parsed = parseToken(token)
        if (parsed.ok) secrets.push(parsed.value.secret)
      }
      expect(secrets.length).toBeGreaterThanOrEqual(7)
      for (const secret of secrets) expect(text).not.toContain(secret)
      // nor anything per key or per mecha: labels are bounded sets
      expect(text).not.toContain(issued.keyId)
      expect(text).not.toContain('alpha')
    } finally {
      await h.close()
    }
  })
})

describe('MECHA_METRICS=off', () => {
  it('has no metrics route: GET /metrics is route_not_found', async () => {
    const t = await testApp({ LOG_LEVEL: 'silent', MECHA_METRICS: 'off' })
    try {
      const res = await t.app.inject({ method: 'GET', url: '/metrics' })
      expect(res.statusCode).toBe(404)
      expect(res.json().reason).toBe('route_not_found')
    } finally {
      await t.close()
    }
  })
})

describe('MECHA_METRICS=port:<n>', () => {
  it('serves GET /metrics on its own listener only, and closes it with the server', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-metrics-'))
    const port = await freePort()
    const config = loadConfig({
      PORT: '0', HOST: '127.0.0.1', MECHA_DATA_DIR: dataDir, LOG_LEVEL: 'silent',
      MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON, MECHA_METRICS: `port:${port}`,
    })
    const server = await startServer(config)
    const metricsUrl = `http://127.0.0.1:${port}/metrics`
    try {
      expect(server.app.hasRoute({ method: 'GET', url: '/metrics' })).toBe(false)
      const main = await fetch(`${server.url}/metrics`)
      expect(main.status).toBe(404)
      expect((await main.json()).reason).toBe('route_not_found')
      expect((await fetch(`${server.url}/v1/mechas`, { headers: admin })).status).toBe(200)

      const res = await fetch(metricsUrl)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
      expect(res.headers.get('cache-control')).toBe('no-store')
      const text = await res.text()
      expect(value(text, requests, { route: '/v1/mechas', method: 'GET', status_class: '2xx', access: 'operator' })).toBe(1)
      expect(value(text, requests, { route: 'unmatched', method: 'GET', status_class: '4xx', access: 'none' })).toBe(1)
      // the listener's own routes are not the main app's: not classified, not counted
      expect(samples(text).some((s) => s.labels.route === '/metrics')).toBe(false)
      expect((await fetch(`http://127.0.0.1:${port}/v1/mechas`, { headers: admin })).status).toBe(404)
    } finally {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
    await expect(fetch(metricsUrl)).rejects.toThrow()
    // the port is free again
    const reuse = createServer()
    await new Promise<void>((resolve, reject) => { reuse.once('error', reject); reuse.listen(port, '127.0.0.1', resolve) })
    await new Promise<void>((resolve) => reuse.close(() => resolve()))
  })

  it('a port already in use stops the server at start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-metrics-'))
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const config = loadConfig({
        PORT: '0', HOST: '127.0.0.1', MECHA_DATA_DIR: dataDir, LOG_LEVEL: 'silent',
        MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON, MECHA_METRICS: `port:${port}`,
      })
      await expect(startServer(config)).rejects.toThrow(/EADDRINUSE/)
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()))
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe('NODE_ENV=production with MECHA_METRICS unset', () => {
  it('serves metrics on HOST:9464, not on the public listener', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-metrics-'))
    const config = loadConfig({
      NODE_ENV: 'production', MECHA_TLS: 'proxy', PORT: '0', HOST: '127.0.0.1', MECHA_DATA_DIR: dataDir, LOG_LEVEL: 'silent',
      MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON, MECHA_MASTER_KEY: 'ab'.repeat(32),
    })
    expect(config.metrics).toEqual({ mode: 'port', port: 9464 })
    const server = await startServer(config)
    try {
      expect(server.app.hasRoute({ method: 'GET', url: '/metrics' })).toBe(false)
      const main = await fetch(`${server.url}/metrics`)
      expect(main.status).toBe(404)
      expect((await main.json()).reason).toBe('route_not_found')
      const res = await fetch('http://127.0.0.1:9464/metrics')
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('mecharim_')
    } finally {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('MECHA_METRICS=on keeps them on the main listener', async () => {
    const t = await testApp({ NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_MASTER_KEY: 'ab'.repeat(32), MECHA_METRICS: 'on', LOG_LEVEL: 'silent' })
    try {
      const res = await t.app.inject({ method: 'GET', url: '/metrics' })
      expect(res.statusCode).toBe(200)
    } finally {
      await t.close()
    }
  })
})
