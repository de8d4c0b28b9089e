import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Env } from '../../src/config/load.js'
import type { Config } from '../../src/config/schema.js'
import { SecretSealer } from '../../src/crypto/sealed-secret.js'
import { OperatorAuthenticator, loadOperatorVerifier } from '../../src/control-plane/operator-auth.js'
import { ControlPlane } from '../../src/control-plane/service.js'
import { gatewayOptions } from '../../src/gateway/build.js'
import { openStores, storeProbes, type Stores } from '../../src/open-stores.js'
import type { ControlStore } from '../../src/stores/types.js'

/** Operator tokens every test app accepts. */
export const OPERATORS = {
  admin: `adm_${'a'.repeat(40)}`,
  reader: `rdr_${'r'.repeat(40)}`,
  auditor: `aud_${'u'.repeat(40)}`,
} as const

export const OPERATOR_TOKENS_JSON = JSON.stringify({
  [OPERATORS.admin]: 'alice',
  [OPERATORS.reader]: { operator: 'rita', scopes: ['keys:read'] },
  [OPERATORS.auditor]: { operator: 'audrey', scopes: ['audit:read'] },
})

export interface TestApp {
  app: FastifyInstance
  config: Config
  store: ControlStore
  stores: Stores
  masterKey: Buffer
  dataDir: string
  /** Every line the logger wrote (none when `options.logStream` took them). */
  logs: string[]
  close(): Promise<void>
}

/**
 * An app built as the server builds it (openStores, gateway, control plane), with a log capture: on
 * the embedded store in a fresh temp directory, or on Redis when `env` has REDIS_URL.
 */
export async function testApp(env: Env = {}, options: { dataDir?: string; masterKey?: Buffer; logStream?: { write(line: string): void } } = {}): Promise<TestApp> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'mecharim-app-'))
  const config = loadConfig({
    MECHA_DATA_DIR: dataDir, LOG_LEVEL: 'info', MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON,
    // Refusal suites send far more failed authentications from 127.0.0.1 than the default 30 per
    // minute: failures are still counted, the throttle only trips where a test sets its own limit.
    MECHA_AUTH_FAILURE_LIMIT: '1000',
    // Test Redis servers run without persistence (startRedis): they give `memory`, and say so.
    MECHA_DURABILITY: 'memory',
    ...env,
  })
  const masterKey = options.masterKey ?? randomBytes(32)
  const stores = await openStores(config)
  const store = stores.control
  const logs: string[] = []
  const capture = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''))
      cb()
    },
  })
  const sealer = new SecretSealer(masterKey)
  const controlPlane = new ControlPlane({ store, sealer, knownTestKeys: config.production ? 'refuse' : 'warn', defaultRateLimit: config.defaultKeyRateLimit, deliveryDefaults: config.deliveryDefaults })
  const gateway = gatewayOptions(config, stores, sealer)
  // As server.ts does: MECHA_OPERATOR_VERIFIER loads a custom verifier module.
  const verifier = config.operatorVerifierPath !== undefined ? await loadOperatorVerifier(config.operatorVerifierPath) : undefined
  const authenticator = new OperatorAuthenticator(config.operatorTokens, verifier, { authFailures: gateway.deps.authFailures })
  const app = await buildApp(config, { store, controlPlane, authenticator, gateway, probes: storeProbes(stores), durability: stores.durability, rateLimiter: stores.rateLimiter }, { logStream: options.logStream ?? capture })
  await app.ready()
  return {
    app, config, store, stores, masterKey, dataDir, logs,
    async close() {
      await app.close()
      gateway.close()
      await stores.close()
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

export const admin = bearer(OPERATORS.admin)
