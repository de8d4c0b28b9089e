import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config/load.js'
import { ControlPlane, type KeyIssueInput } from '../src/control-plane/service.js'
import { SecretSealer } from '../src/crypto/sealed-secret.js'
import { gatewayOptions } from '../src/gateway/build.js'
import type { RuntimeRequest } from '../src/gateway/context.js'
import { VERIFICATION_STEPS, newContext, runSteps, type GatewayDeps, type PipelineDeps } from '../src/gateway/pipeline.js'
import { openStores } from '../src/open-stores.js'
import { PUBLIC_AUTHORITY, PUBLIC_URL, RECIPIENT, SENDER } from './gateway.js'
import { AUTH_MODES, RequestPool, RequestSigner, referenceBody, type AuthMode, type BenchCredentials, type HeaderSet, type PooledRequest } from './signer.js'

/**
 * The verification pipeline alone, in this process: VERIFICATION_STEPS (what the
 * gateway's onRequest and preValidation hooks run) on a fresh GatewayContext per operation, with the
 * key records cached and the key material derived, as in a warm gateway. No HTTP, no nonce claim.
 * The deps are built by the service's own gatewayOptions over an embedded store in a temp directory.
 */
export interface MicroResult {
  mode: AuthMode
  ops: number
  seconds: number
  opsPerSecond: number
  usPerOp: number
}

/** Distinct requests cycled through, so no single string stays hot in every cache. */
const RING = 1024
const WARMUP_MS = 500
const BATCH = 256
/** A bound on the loop whatever the clock does. */
const MAX_OPS = 100_000_000

export async function microBenchmark(seconds: number): Promise<MicroResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-bench-micro-'))
  const masterKey = randomBytes(32)
  const config = loadConfig({ MECHA_DATA_DIR: dataDir, MECHA_MASTER_KEY: masterKey.toString('hex'), MECHA_PUBLIC_URL: PUBLIC_URL, LOG_LEVEL: 'silent' })
  const stores = await openStores(config)
  const sealer = new SecretSealer(masterKey)
  const gateway = gatewayOptions(config, stores, sealer)
  try {
    const credentials = await issueKeys(new ControlPlane({ store: stores.control, sealer }))
    const results: MicroResult[] = []
    for (const mode of AUTH_MODES) results.push(await measureMode(mode, credentials[mode], gateway.deps, seconds))
    return results
  } finally {
    gateway.close()
    await stores.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function measureMode(mode: AuthMode, credentials: BenchCredentials, deps: GatewayDeps, seconds: number): Promise<MicroResult> {
  const signer = new RequestSigner(credentials, { method: 'POST', path: '/v1/messages', body: referenceBody(RECIPIENT), authority: PUBLIC_AUTHORITY })
  const pool = new RequestPool(signer, RING)
  const ring: RuntimeRequest[] = []
  for (let i = 0; i < RING; i++) ring.push(plainRequest(signer, (pool.next() as PooledRequest).headers))

  let i = 0
  const verify = async (): Promise<void> => {
    const ctx = newContext(ring[i++ % RING] as RuntimeRequest, 'send', Date.now())
    const problem = await runSteps(VERIFICATION_STEPS, ctx, deps as PipelineDeps)
    if (problem !== undefined) throw new Error(`micro-benchmark ${mode}: the pipeline refused a valid request: ${problem.reason} ${problem.detail}`)
  }

  const warmupEnd = performance.now() + WARMUP_MS
  while (performance.now() < warmupEnd && i < MAX_OPS) await verify()

  let ops = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end && ops < MAX_OPS) {
    for (let b = 0; b < BATCH; b++) await verify()
    ops += BATCH
  }
  const elapsed = (performance.now() - start) / 1000
  return { mode, ops, seconds: elapsed, opsPerSecond: ops / elapsed, usPerOp: (elapsed * 1e6) / ops }
}

/** What gateway/request.ts makes of a Fastify request, from plain headers. */
function plainRequest(signer: RequestSigner, headers: HeaderSet): RuntimeRequest {
  const lower = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))
  const raw = [...lower].flat()
  let counts: Map<string, number> | undefined
  return {
    method: signer.shape.method,
    path: signer.shape.path,
    query: '?',
    header: (name) => lower.get(name)?.trim(),
    headerCount(name) {
      if (counts === undefined) {
        counts = new Map()
        for (let k = 0; k < raw.length; k += 2) {
          const key = (raw[k] as string).toLowerCase()
          counts.set(key, (counts.get(key) ?? 0) + 1)
        }
      }
      return counts.get(name) ?? 0
    },
    body: signer.shape.body,
    clientAddress: '127.0.0.1',
    // The verification steps read none of the route's parts.
    json: undefined, queryParams: {}, bodyProblem: undefined, validationError: undefined,
    signal: new AbortController().signal, upgrade: false, connection: undefined as never,
  }
}

async function issueKeys(controlPlane: ControlPlane): Promise<Record<AuthMode, BenchCredentials>> {
  const actor = { operator: 'bench', requestId: 'bench' }
  for (const id of [SENDER, RECIPIENT]) await controlPlane.createMecha(actor, { id })
  const issued = {} as Record<AuthMode, BenchCredentials>
  for (const mode of AUTH_MODES) {
    const input: KeyIssueInput = { label: `bench ${mode}` }
    const pair = mode === 'ed25519' ? generateKeyPairSync('ed25519') : undefined
    if (mode === 'hmac') input.signature = { required: true, algorithms: ['hmac-sha256'] }
    if (pair !== undefined) {
      input.signature = { required: true, algorithms: ['ed25519'] }
      input.public_keys = [pair.publicKey.export({ format: 'jwk' }).x as string]
    }
    const key = await controlPlane.issueKey(actor, SENDER, input)
    issued[mode] = {
      mode, keyId: key.key.id, token: key.token,
      ...(key.signing_secret !== undefined ? { signingSecret: key.signing_secret } : {}),
      ...(pair !== undefined ? { privateKey: pair.privateKey } : {}),
    }
  }
  return issued
}
