import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from './app.js'
import type { Config, StaticOperatorToken } from './config/schema.js'
import { OPERATOR_SCOPES } from './config/schema.js'
import { sha256 } from './crypto/digest.js'
import { SecretSealer } from './crypto/sealed-secret.js'
import { loadOperatorVerifier, OperatorAuthenticator } from './control-plane/operator-auth.js'
import { ControlPlane } from './control-plane/service.js'
import { gatewayOptions } from './gateway/build.js'
import { loadOrCreateDevMasterKey } from './master-key.js'
import { openStores, storeProbes } from './stores/factory.js'

export interface RunningServer {
  app: FastifyInstance
  url: string
  /** Set when development mode generated an operator token: shown once, never stored or logged. */
  generatedOperatorToken?: string
  close(): Promise<void>
}

/** Open stores, build the app and listen. Used by main.ts, `mecharim serve` and process-level tests. */
export async function startServer(config: Config, options: AppOptions = {}): Promise<RunningServer> {
  const masterKey = config.masterKey ?? loadOrCreateDevMasterKey(config.dataDir).key
  const stores = await openStores(config)
  try {
    let tokens: readonly StaticOperatorToken[] = config.operatorTokens
    let generatedOperatorToken: string | undefined
    if (config.generateOperatorToken) {
      generatedOperatorToken = `mop_${randomBytes(32).toString('base64url')}`
      tokens = [{ digest: sha256(generatedOperatorToken), identity: { operator: 'dev', scopes: OPERATOR_SCOPES } }]
    }
    const verifier = config.operatorVerifierPath !== undefined ? await loadOperatorVerifier(config.operatorVerifierPath) : undefined
    const sealer = new SecretSealer(masterKey)
    const controlPlane = new ControlPlane({ store: stores.control, sealer, knownTestKeys: config.production ? 'refuse' : 'warn', defaultRateLimit: config.defaultKeyRateLimit })
    const gateway = gatewayOptions(config, stores, sealer)
    const authenticator = new OperatorAuthenticator(tokens, verifier, { authFailures: gateway.deps.authFailures })
    const app = await buildApp(config, { store: stores.control, controlPlane, authenticator, gateway, probes: storeProbes(stores), rateLimiter: stores.rateLimiter }, options)
    // Runs once the server has closed, i.e. after the last connection ended (or the shutdown grace cut it off).
    app.addHook('onClose', async () => {
      gateway.close()
      await stores.close()
      app.log.info({ store: stores.kind }, 'stores closed')
    })
    for (const warning of config.warnings) app.log.warn(warning)
    const url = await app.listen({ host: config.host, port: config.port })
    app.log.info({ store: stores.kind, public_url: config.publicUrl }, 'mecharim listening')
    return { app, url, generatedOperatorToken, close: () => app.close() }
  } catch (err) {
    await stores.close()
    throw err
  }
}
