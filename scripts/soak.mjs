// @ts-check
/* global process, console, fetch, Buffer, setTimeout, clearTimeout, setInterval, clearInterval */
/**
 * Soak test: `npm run soak` (compiles src/ first; this script imports the compiled service from dist/).
 *
 * Starts a redis-server on a free loopback port, the gateway on it (startServer, in this process),
 * registers mechas and keys through the operator API, then for SOAK_SECONDS (default 30) runs
 * SOAK_CONCURRENCY (default 16) workers sending mixed traffic: valid messages (token, HMAC-SHA256 and
 * Ed25519 signatures), exact replays of accepted requests, invalid requests (bad signature, unknown
 * key, stale timestamp, malformed JSON, malformed credentials) and inbox drains with acks. At the end it
 * drains every inbox and prints a report.
 *
 * Exits 1 when a replay or an invalid request was accepted, when replays caught differ from replays
 * sent, on any 5xx or network error, or when an accepted message was never delivered.
 *
 * Plain JavaScript because Node 20 cannot run TypeScript; it is linted with the rest and reads the
 * service's own compiled modules, so it always exercises what `npm start` runs.
 */
import { spawn } from 'node:child_process'
import { createHash, createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { performance } from 'node:perf_hooks'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { loadConfig } from '../dist/config/load.js'
import { newKeyId } from '../dist/crypto/ids.js'
import { newToken } from '../dist/crypto/token.js'
import {
  MECHA_BODY_COMPONENTS, MECHA_COMPONENTS, buildSignatureBase, serializeSignature, serializeSignatureInput, serializeSignatureParams,
} from '../dist/crypto/signature-base.js'
import { answersPing, freePort } from '../dist/dev/local-ports.js'
import { startServer } from '../dist/server.js'

const HOST = '127.0.0.1'
const SENDERS = 4
const RECIPIENTS = 4
const REPLAY_POOL = 500

/** Traffic classes, their weight, and the answer each must get. */
const TRAFFIC = [
  { name: 'valid token', weight: 3, expect: [202] },
  { name: 'valid hmac-sha256', weight: 3, expect: [202] },
  { name: 'valid ed25519', weight: 3, expect: [202] },
  { name: 'replay', weight: 3, expect: [401, 'replayed_nonce'] },
  { name: 'bad signature', weight: 1, expect: [401, 'bad_signature'] },
  { name: 'unknown key', weight: 1, expect: [401, 'invalid_key'] },
  { name: 'stale timestamp', weight: 1, expect: [401, 'stale_timestamp'] },
  { name: 'malformed json', weight: 1, expect: [400, 'malformed_json'] },
  { name: 'malformed credentials', weight: 1, expect: [401, 'malformed_credentials'] },
  { name: 'drain inbox', weight: 2, expect: [200] },
]

function positiveInteger(name, fallback) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    console.error(`soak: ${name} must be a positive integer, got ${JSON.stringify(raw)}`)
    process.exit(2)
  }
  return Number(raw)
}

const SECONDS = positiveInteger('SOAK_SECONDS', 30)
const CONCURRENCY = positiveInteger('SOAK_CONCURRENCY', 16)

// ------------------------------------------------------------------ redis and the gateway

/** A throwaway redis-server on loopback: no persistence, no eviction (an evicted nonce would reopen replays). */
async function startRedis(dir) {
  const port = await freePort()
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir,
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  let failed
  child.once('error', (err) => { failed = err.message })
  child.once('exit', (code) => { failed ??= `exited with ${code}` })
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    if (failed !== undefined) throw new Error(`redis-server did not start (is it on PATH?): ${failed}`)
    if (await answersPing(port)) return { port, version: await redisVersion(), stop: () => stopChild(child) }
    await sleep(25)
  }
  child.kill('SIGKILL')
  throw new Error('redis-server did not answer PING within 10 s')
}

function redisVersion() {
  return new Promise((resolve) => {
    const child = spawn('redis-server', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (chunk) => { out += chunk })
    child.on('close', () => resolve(/v=(\S+)/.exec(out)?.[1] ?? 'unknown'))
    child.on('error', () => resolve('unknown'))
  })
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(timer); resolve(undefined) })
    child.kill('SIGTERM')
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ------------------------------------------------------------------ signing (profile mecha-v1, node:crypto)

const nonce = () => randomBytes(18).toString('base64url')

/**
 * Headers for one runtime request. `auth`: token, hmac-sha256 or ed25519. `tamper` alters the result.
 * @returns {{ method: string, path: string, headers: Record<string, string>, body: string | undefined }}
 */
function signedRequest(authority, method, path, credentials, auth, body, options = {}) {
  const headers = {
    'mecha-timestamp': String(options.timestamp ?? Math.floor(Date.now() / 1000)),
    'mecha-nonce': nonce(),
  }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (auth === 'token') headers.authorization = `Mecha ${credentials.token}`
  else {
    if (body !== undefined) headers['content-digest'] = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
    const components = [...MECHA_COMPONENTS, ...(body !== undefined ? MECHA_BODY_COMPONENTS : [])]
    const params = { keyid: credentials.keyId, alg: auth, tag: 'mecha-v1' }
    const q = path.indexOf('?')
    const base = buildSignatureBase(components, serializeSignatureParams(components, params), {
      method, authority, path: q === -1 ? path : path.slice(0, q), query: q === -1 ? '?' : path.slice(q), header: (name) => headers[name],
    })
    if (!base.ok) throw new Error(base.detail)
    const signature = auth === 'hmac-sha256'
      ? createHmac('sha256', Buffer.from(credentials.signingSecret, 'utf8')).update(base.value).digest()
      : sign(null, Buffer.from(base.value), credentials.privateKey)
    headers['signature-input'] = serializeSignatureInput(components, params)
    headers.signature = serializeSignature(signature)
  }
  options.tamper?.(headers)
  return { method, path, headers, body }
}

// ------------------------------------------------------------------ the run

const stats = {
  byClass: new Map(TRAFFIC.map((t) => [t.name, { sent: 0, ok: 0, unexpected: 0 }])),
  refusals: new Map(),
  serverErrors: new Map(),
  networkErrors: new Map(),
  replaysSent: 0,
  replaysCaught: 0,
  replaysAccepted: 0,
  invalidAccepted: 0,
  acceptedCount: 0,
}
/** Latency histogram in 0.1 ms buckets up to 10 s (the last bucket takes the rest): constant memory however long the run. */
const latency = { buckets: new Uint32Array(100_001), count: 0, max: 0 }
/**
 * Accepted messages not yet seen in an inbox, and (a drain can overtake the sender's 202) messages seen
 * before their acceptance was: both stay small, so a long soak measures the gateway, not this script.
 */
const acceptedUnseen = new Set()
const seenUnaccepted = new Set()
/** Accepted requests, kept for exact replays. */
const replayPool = []

function recordLatency(ms) {
  latency.buckets[Math.min(latency.buckets.length - 1, Math.floor(ms * 10))]++
  latency.count++
  latency.max = Math.max(latency.max, ms)
}

function percentile(p) {
  let remaining = Math.ceil((p / 100) * latency.count)
  for (let i = 0; i < latency.buckets.length; i++) if ((remaining -= latency.buckets[i]) <= 0) return i / 10
  return latency.max
}

function bump(map, key) {
  map.set(key, (map.get(key) ?? 0) + 1)
}

async function send(base, request) {
  const started = performance.now()
  try {
    const res = await fetch(`${base}${request.path}`, { method: request.method, headers: request.headers, ...(request.body !== undefined ? { body: request.body } : {}) })
    const text = await res.text()
    recordLatency(performance.now() - started)
    let body
    try { body = text === '' ? undefined : JSON.parse(text) } catch { body = undefined }
    if (res.status >= 500) bump(stats.serverErrors, `${res.status} ${body?.reason ?? ''}`.trim())
    else if (res.status >= 400) bump(stats.refusals, `${res.status} ${body?.reason ?? '(no reason)'}`)
    return { status: res.status, body }
  } catch (err) {
    bump(stats.networkErrors, err?.cause?.code ?? err?.name ?? 'error')
    return { status: 0, body: undefined }
  }
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)]
}

function pickTraffic() {
  const total = TRAFFIC.reduce((sum, t) => sum + t.weight, 0)
  let roll = Math.random() * total
  for (const t of TRAFFIC) if ((roll -= t.weight) < 0) return t
  return TRAFFIC[0]
}

async function drain(ctx, recipient) {
  const read = await send(ctx.base, signedRequest(ctx.authority, 'GET', '/v1/inbox?limit=100', recipient.key, 'token'))
  const ids = read.status === 200 ? read.body.messages.map((m) => m.id) : []
  for (const id of ids) if (!acceptedUnseen.delete(id)) seenUnaccepted.add(id)
  if (ids.length > 0) await send(ctx.base, signedRequest(ctx.authority, 'POST', '/v1/inbox/ack', recipient.key, 'token', JSON.stringify({ ids })))
  return { status: read.status, count: ids.length }
}

async function step(ctx) {
  const traffic = pickTraffic()
  const sender = pick(ctx.senders)
  const message = () => JSON.stringify({ to: pick(ctx.recipients).id, kind: 'soak.task', payload: { n: Math.random(), at: Date.now() } })
  const post = (credentials, auth, options) => signedRequest(ctx.authority, 'POST', '/v1/messages', credentials, auth, message(), options)
  let request
  switch (traffic.name) {
    case 'valid token': request = post(sender.token, 'token'); break
    case 'valid hmac-sha256': request = post(sender.hmac, 'hmac-sha256'); break
    case 'valid ed25519': request = post(sender.ed25519, 'ed25519'); break
    case 'replay': {
      const original = replayPool.length > 0 ? replayPool.splice(Math.floor(Math.random() * replayPool.length), 1)[0] : undefined
      if (original === undefined) return
      request = original
      break
    }
    case 'bad signature': request = post(sender.hmac, 'hmac-sha256', { tamper: (h) => { h.signature = `mecha=:${randomBytes(32).toString('base64')}:` } }); break
    case 'unknown key': {
      const keyId = newKeyId()
      request = post({ keyId, token: newToken(keyId).token }, 'token')
      break
    }
    case 'stale timestamp': request = post(sender.token, 'token', { timestamp: Math.floor(Date.now() / 1000) - 3600 }); break
    case 'malformed json': request = signedRequest(ctx.authority, 'POST', '/v1/messages', sender.token, 'token', '{"to": "r0", "kind":'); break
    case 'malformed credentials': request = post(sender.token, 'token', { tamper: (h) => { h.authorization = 'Mecha not-a-token' } }); break
    case 'drain inbox': {
      const counts = stats.byClass.get(traffic.name)
      counts.sent++
      const { status } = await drain(ctx, pick(ctx.recipients))
      if (status === 200) counts.ok++
      else counts.unexpected++
      return
    }
  }
  const counts = stats.byClass.get(traffic.name)
  counts.sent++
  if (traffic.name === 'replay') stats.replaysSent++
  const res = await send(ctx.base, request)
  const [status, reason] = traffic.expect
  const asExpected = res.status === status && (reason === undefined || res.body?.reason === reason)
  if (asExpected) counts.ok++
  else counts.unexpected++
  if (traffic.name === 'replay') {
    if (asExpected) stats.replaysCaught++
    if (res.status < 300) stats.replaysAccepted++
  } else if (status !== 202 && res.status < 300) stats.invalidAccepted++
  if (status === 202 && res.status === 202) {
    stats.acceptedCount++
    if (!seenUnaccepted.delete(res.body.id)) acceptedUnseen.add(res.body.id)
    if (replayPool.length < REPLAY_POOL) replayPool.push(request)
  }
}

async function setUp(base, operatorToken) {
  const operator = async (path, body) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    })
    const json = await res.json()
    if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }
  const senders = []
  for (let i = 0; i < SENDERS; i++) {
    const id = `s${i}`
    await operator('/v1/mechas', { id })
    // Unlimited keys (an explicit null, not MECHA_DEFAULT_KEY_RATE_LIMIT): the soak measures the gateway, not the limiter.
    const token = await operator(`/v1/mechas/${id}/keys`, { label: 'token', rate_limit: null })
    const hmac = await operator(`/v1/mechas/${id}/keys`, { label: 'hmac', signature: { required: true, algorithms: ['hmac-sha256'] }, rate_limit: null })
    const pair = generateKeyPairSync('ed25519')
    const ed25519 = await operator(`/v1/mechas/${id}/keys`, {
      label: 'ed25519', signature: { required: true, algorithms: ['ed25519'] }, public_keys: [pair.publicKey.export({ format: 'jwk' }).x], rate_limit: null,
    })
    senders.push({
      id,
      token: { keyId: token.key.id, token: token.token },
      hmac: { keyId: hmac.key.id, signingSecret: hmac.signing_secret },
      ed25519: { keyId: ed25519.key.id, privateKey: pair.privateKey },
    })
  }
  const recipients = []
  for (let i = 0; i < RECIPIENTS; i++) {
    const id = `r${i}`
    await operator('/v1/mechas', { id })
    const key = await operator(`/v1/mechas/${id}/keys`, { label: 'reader', rate_limit: null })
    recipients.push({ id, key: { keyId: key.key.id, token: key.token } })
  }
  return { senders, recipients }
}

// ------------------------------------------------------------------ the report

function memory() {
  globalThis.gc?.()
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage()
  return { rss, heapUsed, heapTotal, external }
}

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => `| ${cells.map((c, i) => (typeof c === 'number' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' | ')} |`
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

function report({ redis, base, startMemory, endMemory, peakRss, elapsedMs, undelivered, errorLogs }) {
  const sent = [...stats.byClass.values()].reduce((sum, c) => sum + c.sent, 0)
  const failures = []
  if (stats.replaysAccepted > 0) failures.push(`${stats.replaysAccepted} replays accepted`)
  if (stats.replaysCaught !== stats.replaysSent) failures.push(`replays caught (${stats.replaysCaught}) != replays sent (${stats.replaysSent})`)
  if (stats.invalidAccepted > 0) failures.push(`${stats.invalidAccepted} invalid requests accepted`)
  const count = (map) => [...map.values()].reduce((sum, n) => sum + n, 0)
  if (count(stats.serverErrors) > 0) failures.push(`${count(stats.serverErrors)} 5xx answers`)
  if (count(stats.networkErrors) > 0) failures.push(`${count(stats.networkErrors)} network errors`)
  if (undelivered > 0) failures.push(`${undelivered} accepted messages never delivered`)

  const out = [
    `Soak: ${(elapsedMs / 1000).toFixed(1)} s, concurrency ${CONCURRENCY}, redis-server ${redis.version} on ${HOST}:${redis.port}, gateway ${base}`,
    `Requests: ${sent} (${(sent / (elapsedMs / 1000)).toFixed(0)}/s), latency p50 ${percentile(50).toFixed(1)} ms, p99 ${percentile(99).toFixed(1)} ms, max ${latency.max.toFixed(1)} ms`,
    '',
    table(['traffic', 'sent', 'as expected', 'unexpected', 'expected answer'],
      TRAFFIC.map((t) => { const c = stats.byClass.get(t.name); return [t.name, c.sent, c.ok, c.unexpected, t.expect.join(' ')] })),
    '',
    table(['refused (status reason)', 'count'], [...stats.refusals.entries()].sort(([a], [b]) => a.localeCompare(b))),
    '',
    table(['outcome', 'count'], [
      ['messages accepted (202)', stats.acceptedCount],
      ['accepted messages delivered (drained)', stats.acceptedCount - undelivered],
      ['replays sent', stats.replaysSent],
      ['replays caught (401 replayed_nonce)', stats.replaysCaught],
      ['replays accepted', stats.replaysAccepted],
      ['invalid requests accepted', stats.invalidAccepted],
      ['5xx answers', count(stats.serverErrors)],
      ['network errors', count(stats.networkErrors)],
      ['error-level log lines', errorLogs.length],
    ]),
    ...(count(stats.serverErrors) + count(stats.networkErrors) > 0
      ? ['', table(['error', 'count'], [...stats.serverErrors.entries(), ...stats.networkErrors.entries()])]
      : []),
    '',
    table(['memory (this process: gateway + load, after GC)', 'start', 'end'], [
      ['rss', mib(startMemory.rss), mib(endMemory.rss)],
      ['heap used', mib(startMemory.heapUsed), mib(endMemory.heapUsed)],
      ['heap total', mib(startMemory.heapTotal), mib(endMemory.heapTotal)],
      ['external', mib(startMemory.external), mib(endMemory.external)],
      ['peak rss during the run', '', mib(peakRss)],
    ]),
    '',
    failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`,
  ]
  console.log(out.join('\n'))
  for (const line of errorLogs.slice(0, 5)) console.error(line)
  return failures.length === 0 ? 0 : 1
}

// ------------------------------------------------------------------ main

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'mecharim-soak-'))
  let redis
  let server
  try {
    redis = await startRedis(dir)
    const port = await freePort()
    const operatorToken = randomBytes(32).toString('hex')
    const config = loadConfig({
      HOST, PORT: String(port), LOG_LEVEL: 'warn', NODE_ENV: 'development',
      REDIS_URL: `redis://${HOST}:${redis.port}`, MECHA_REDIS_PREFIX: 'soak:', MECHA_DATA_DIR: dir,
      MECHA_MASTER_KEY: randomBytes(32).toString('hex'), MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [operatorToken]: 'soak' }),
      // All the soak's traffic, invalid requests included, comes from one address: the per-address
      // failed-authentication limit would end up refusing the valid traffic too.
      MECHA_AUTH_FAILURE_LIMIT: '0',
      // The soak's Redis runs without persistence.
      MECHA_DURABILITY: 'memory',
    })
    const errorLogs = []
    const logStream = new Writable({
      write(chunk, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n')) if (/"level":(50|60)/.test(line)) errorLogs.push(line)
        callback()
      },
    })
    server = await startServer(config, { logStream })
    const base = server.url
    const identities = await setUp(base, operatorToken)
    const ctx = { base, authority: config.publicAuthority, ...identities }

    const startMemory = memory()
    let peakRss = startMemory.rss
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 250)
    const started = Date.now()
    const deadline = started + SECONDS * 1000
    process.stderr.write(`soak: ${SECONDS} s at concurrency ${CONCURRENCY} against ${base} (redis-server on port ${redis.port})...\n`)
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) await step(ctx)
    }))
    const elapsedMs = Date.now() - started
    clearInterval(sampler)

    // Everything accepted must have been delivered: drain until every inbox is empty.
    for (const recipient of ctx.recipients) {
      for (let round = 0; round < 10_000; round++) if ((await drain(ctx, recipient)).count === 0) break
    }
    const undelivered = acceptedUnseen.size
    const endMemory = memory()
    return report({ redis, base, startMemory, endMemory, peakRss, elapsedMs, undelivered, errorLogs })
  } finally {
    await server?.close()
    await redis?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(`soak: ${err instanceof Error ? err.stack : String(err)}`)
  process.exit(2)
})
