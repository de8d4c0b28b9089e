import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../src/dev/local-ports.js'
import { spawnChild, waitForHttp, type BenchChild } from './processes.js'
import { AUTH_MODES, type AuthMode, type BenchCredentials } from './signer.js'

/** The compiled service (`npm run build`), run exactly as `npm start` runs it. */
const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url))
const BARE = fileURLToPath(new URL('./bare-server.js', import.meta.url))
const PROTOTYPE = fileURLToPath(new URL('./prototype-server.js', import.meta.url))

/**
 * Every gateway process gets the same public origin, so one pre-signed request verifies on any of
 * them (the port each listens on is not part of `@authority`).
 */
export const PUBLIC_URL = 'http://gateway.bench.invalid'
export const PUBLIC_AUTHORITY = new URL(PUBLIC_URL).host
export const SENDER = 'bench-sender'
/** Names this run's profiles, so a later run does not overwrite them. */
const RUN_STAMP = new Date().toISOString().replace(/[:.]/g, '-')
export const RECIPIENT = 'bench-recipient'

export interface GatewaySettings {
  label: string
  /** The compiled service to run; default this tree's dist/main.js (bench/ab.ts runs another build beside it). */
  entry?: string
  /** Unset: the embedded store in `dataDir`. */
  redisUrl?: string
  metrics: 'on' | 'off'
  /** Set: run under `node --cpu-prof`, writing `<label>.cpuprofile` here when the process exits. */
  profileDir?: string
}

export interface RunningGateway {
  url: string
  child: BenchChild
  settings: GatewaySettings
  /** Where its CPU profile appears once it has exited (profiled gateways only). */
  profilePath: string | undefined
  /** Stop the process (SIGTERM: it drains, and writes its profile) and remove its data directory. Returns its peak RSS in KiB. */
  stop(): Promise<number | undefined>
}

/** Shared by every gateway of one bench run, so processes behind one Redis open each other's secrets. */
export const benchSecrets = {
  operatorToken: `mop_bench_${randomBytes(24).toString('base64url')}`,
  masterKey: randomBytes(32).toString('hex'),
}

/** Data directories of gateways not yet stopped: removed on any exit, the watchdog's included. */
const dataDirs = new Set<string>()
process.on('exit', () => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true })
})

export async function startGateway(settings: GatewaySettings): Promise<RunningGateway> {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-bench-'))
  dataDirs.add(dataDir)
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    // Plain HTTP on loopback: production accepts it only when told TLS is terminated elsewhere.
    MECHA_TLS: 'proxy',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    MECHA_PUBLIC_URL: PUBLIC_URL,
    MECHA_DATA_DIR: dataDir,
    MECHA_MASTER_KEY: benchSecrets.masterKey,
    MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [benchSecrets.operatorToken]: 'bench' }),
    MECHA_METRICS: settings.metrics,
    // Messages are never acknowledged during a bench: the default 10 000 would turn into 429 inbox_full.
    MECHA_INBOX_LIMIT: '10000000',
    // ...nor the byte budget (64 MiB) and one sender's half of it: one sender fills the bench inbox.
    MECHA_INBOX_MAX_BYTES: String(2 ** 40),
    MECHA_INBOX_SENDER_SHARE: '1',
    MECHA_SHUTDOWN_GRACE_SECONDS: '1',
    // The bench's Redis runs without persistence (it measures the gateway, not the disk).
    ...(settings.redisUrl !== undefined ? { REDIS_URL: settings.redisUrl, MECHA_DURABILITY: 'memory' } : {}),
  }
  const nodeArgs: string[] = []
  let profilePath: string | undefined
  if (settings.profileDir !== undefined) {
    mkdirSync(settings.profileDir, { recursive: true })
    profilePath = join(resolve(settings.profileDir), `${RUN_STAMP}-${settings.label}.cpuprofile`)
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', dirname(profilePath), '--cpu-prof-name', basename(profilePath))
  }
  const child = spawnChild(settings.label, process.execPath, [...nodeArgs, settings.entry ?? MAIN], env)
  const url = `http://127.0.0.1:${port}`
  const stop = async (): Promise<number | undefined> => {
    const peak = child.peakRssKiB()
    await child.stop()
    rmSync(dataDir, { recursive: true, force: true })
    dataDirs.delete(dataDir)
    return peak
  }
  try {
    await waitForHttp(child, `${url}/healthz`)
  } catch (err) {
    await stop()
    throw err
  }
  return { url, child, settings, profilePath, stop }
}

/** The bare Fastify 5 server (bench/bare-server.ts) in its own process. */
export async function startBare(): Promise<{ url: string; child: BenchChild }> {
  const port = await freePort()
  const child = spawnChild('bare-fastify', process.execPath, [BARE], { BENCH_BARE_PORT: String(port) })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(child, `${url}/`)
  return { url, child }
}

/**
 * The prototype (bench/prototype-server.ts) on the bench's Redis, accepting the bearer key's token:
 * it is given the SHA-256 of the token's secret part, as the gateway stores it.
 */
export async function startPrototype(redisUrl: string, bearerToken: string): Promise<{ url: string; child: BenchChild }> {
  const port = await freePort()
  const secret = bearerToken.split('_')[2] ?? ''
  const child = spawnChild('prototype', process.execPath, [PROTOTYPE], {
    BENCH_PROTO_PORT: String(port), BENCH_PROTO_REDIS_URL: redisUrl, BENCH_PROTO_SECRET_DIGEST: createHash('sha256').update(secret).digest('hex'),
  })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(child, `${url}/`)
  return { url, child }
}

/**
 * Register the sender and the recipients and issue one key per mode through the operator API: a plain
 * bearer key, and keys that require an HMAC-SHA256 or an Ed25519 signature.
 */
export async function provision(gateway: RunningGateway, recipients: readonly string[] = [RECIPIENT]): Promise<Record<AuthMode, BenchCredentials>> {
  for (const id of [SENDER, ...recipients]) await operator(gateway, 'POST', '/v1/mechas', { id })
  const issued = {} as Record<AuthMode, BenchCredentials>
  for (const mode of AUTH_MODES) {
    // Unlimited (an explicit null, not MECHA_DEFAULT_KEY_RATE_LIMIT): the bench measures the gateway, not the limiter.
    const body: Record<string, unknown> = { label: `bench ${mode}`, rate_limit: null }
    let privateKey
    if (mode === 'hmac') body.signature = { required: true, algorithms: ['hmac-sha256'] }
    if (mode === 'ed25519') {
      const pair = generateKeyPairSync('ed25519')
      privateKey = pair.privateKey
      body.signature = { required: true, algorithms: ['ed25519'] }
      body.public_keys = [pair.publicKey.export({ format: 'jwk' }).x as string]
    }
    const res = await operator(gateway, 'POST', `/v1/mechas/${SENDER}/keys`, body) as { key: { id: string }; token: string; signing_secret?: string }
    issued[mode] = {
      mode, keyId: res.key.id, token: res.token,
      ...(res.signing_secret !== undefined ? { signingSecret: res.signing_secret } : {}),
      ...(privateKey !== undefined ? { privateKey } : {}),
    }
  }
  return issued
}

export async function operator(gateway: RunningGateway, method: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${benchSecrets.operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${gateway.settings.label}: ${method} ${path} answered ${res.status}: ${text}`)
  return JSON.parse(text) as unknown
}
