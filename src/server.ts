import type { Server as TlsServer } from 'node:tls'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from './app.js'
import type { Config, StaticOperatorToken } from './config/schema.js'
import { OPERATOR_SCOPES } from './config/schema.js'
import { withPort } from './config/load.js'
import { sha256 } from './crypto/digest.js'
import { SecretSealer } from './crypto/sealed-secret.js'
import { loadOperatorVerifier, OperatorAuthenticator } from './control-plane/operator-auth.js'
import { OperatorTokensReloader } from './control-plane/operator-tokens-reload.js'
import { ControlPlane } from './control-plane/service.js'
import { gatewayOptions } from './gateway/build.js'
import { freePort } from './dev/local-ports.js'
import { loadOrCreateDevOperatorToken } from './dev/operator-token.js'
import { loadOrCreateDevMasterKey } from './master-key.js'
import { watchFiles } from './reload/file-watch.js'
import { CertificateReloader, isCertificateProblem, readCertificatePair } from './reload/certificate.js'
import { ReloadStatus } from './reload/reload-status.js'
import type { ReloadTrigger } from './reload/reload-trigger.js'
import { openStores, storeProbes } from './open-stores.js'

export interface RunningServer {
  app: FastifyInstance
  url: string
  /**
   * Set when development mode uses its generated operator token: kept in
   * MECHA_DATA_DIR/dev-operator-token (see dev/operator-token.ts), printed on the terminal, never logged.
   */
  generatedOperatorToken?: { token: string; path: string }
  close(): Promise<void>
}

/** Where the reload signal comes from: `process`, or an EventEmitter in tests. */
export interface ReloadSignalSource {
  on(event: 'SIGHUP', listener: () => void): unknown
  off(event: 'SIGHUP', listener: () => void): unknown
}

export interface ServerOptions extends AppOptions {
  /** SIGHUP re-reads the files the process watches (operator tokens, certificate). Default: `process`. */
  reloadSignals?: ReloadSignalSource
}

/** Open stores, build the app and listen. Used by main.ts, `mecharim serve` and process-level tests. */
export async function startServer(configured: Config, options: ServerOptions = {}): Promise<RunningServer> {
  // PORT=0: the port is chosen first (a probe listener), so that the public origin can name it.
  const config = configured.port === 0 ? withPort(configured, await freePort(configured.host)) : configured
  const masterKey = config.masterKey ?? loadOrCreateDevMasterKey(config.dataDir).key
  const tls = config.tls !== undefined ? await readCertificatePair(config.tls.certPath, config.tls.keyPath) : undefined
  if (tls !== undefined && isCertificateProblem(tls)) {
    const variable = tls.file === config.tls?.keyPath ? 'MECHA_TLS_KEY_PATH' : 'MECHA_TLS_CERT_PATH'
    throw new Error(`${variable}: ${JSON.stringify(tls.file)}: ${tls.problem}`)
  }
  const stores = await openStores(config)
  try {
    let tokens: readonly StaticOperatorToken[] = config.operatorTokens
    let generatedOperatorToken: RunningServer['generatedOperatorToken']
    if (config.generateOperatorToken) {
      const { token, path } = loadOrCreateDevOperatorToken(config.dataDir)
      generatedOperatorToken = { token, path }
      tokens = [{ digest: sha256(token), identity: { operator: 'dev', scopes: OPERATOR_SCOPES } }]
    }
    const verifier = config.operatorVerifierPath !== undefined ? await loadOperatorVerifier(config.operatorVerifierPath) : undefined
    const sealer = new SecretSealer(masterKey)
    const controlPlane = new ControlPlane({ store: stores.control, sealer, knownTestKeys: config.production ? 'refuse' : 'warn', defaultRateLimit: config.defaultKeyRateLimit, deliveryDefaults: config.deliveryDefaults })
    // The session sweeper's failures are logged once the app (and its logger) exists; a failed round is retried by the next.
    const logged: { log?: { error(obj: object, msg: string): void } } = {}
    const gateway = gatewayOptions(config, stores, sealer, (err) => logged.log?.error({ err }, 'session expiry sweep failed; the next round retries'))
    const authenticator = new OperatorAuthenticator(tokens, verifier, { authFailures: gateway.deps.authFailures })
    const tokensStatus = config.operatorTokensFile !== undefined ? new ReloadStatus('operator_tokens') : undefined
    const certificateStatus = tls !== undefined ? new ReloadStatus('tls_certificate') : undefined
    const reloads = [tokensStatus, certificateStatus].filter((s): s is ReloadStatus => s !== undefined)
    const deps = { store: stores.control, controlPlane, authenticator, gateway, probes: storeProbes(stores), durability: stores.durability, rateLimiter: stores.rateLimiter, reloads }
    const app = await buildApp(config, deps, { ...options, ...(tls !== undefined ? { tls: { cert: tls.cert, key: tls.key } } : {}) })

    logged.log = app.log
    let stopReloading = (): void => {}

    // Runs once the server has closed, i.e. after the last connection ended (or the shutdown grace cut it off).
    app.addHook('onClose', async () => {
      stopReloading()
      gateway.close()
      await stores.close()
      app.log.info({ store: stores.kind }, 'stores closed')
    })
    for (const warning of config.warnings) app.log.warn(warning)
    const url = await app.listen({ host: config.host, port: config.port })
    const reloaders: Reloadable[] = []
    if (config.operatorTokensFile !== undefined && tokensStatus !== undefined) {
      // A generated development token is kept too: it exists only when the file listed none at start.
      const alongside = config.generateOperatorToken ? tokens : config.operatorTokensFile.alongside
      const reloader = new OperatorTokensReloader({ path: config.operatorTokensFile.path, alongside, authenticator, controlPlane, status: tokensStatus, log: app.log })
      reloaders.push({ what: 'the operator tokens file', paths: [config.operatorTokensFile.path], reload: (trigger) => reloader.reload(trigger) })
    }
    if (config.tls !== undefined && certificateStatus !== undefined) {
      const { certPath, keyPath } = config.tls
      const reloader = new CertificateReloader({ certPath, keyPath, server: app.server as unknown as TlsServer, status: certificateStatus, log: app.log })
      reloaders.push({ what: 'the TLS certificate', paths: [certPath, keyPath], reload: (trigger) => reloader.reload(trigger) })
    }
    stopReloading = startReloading(reloaders, options.reloadSignals ?? process, app.log)
    app.log.info({ store: stores.kind, public_url: config.publicUrl }, 'mecharim listening')
    return { app, url, generatedOperatorToken, close: () => app.close() }
  } catch (err) {
    await stores.close()
    throw err
  }
}

interface Reloadable {
  /** For the log: what cannot be watched. */
  what: string
  paths: readonly string[]
  reload(trigger: ReloadTrigger): Promise<void>
}

/**
 * Re-read each reloadable when its files change and on SIGHUP; returns the function that stops it.
 * The SIGHUP listener is installed even with nothing to reload: without one, Node's default would
 * end the process, and a reload signal must never stop the service.
 */
function startReloading(reloadables: readonly Reloadable[], signals: ReloadSignalSource, log: FastifyBaseLogger): () => void {
  const watches = reloadables.map((r) => watchFiles(r.paths, () => void r.reload('file_changed'), {
    onWatchError: (directory, err) => log.warn({ err, directory }, `cannot watch ${r.what}; changes are still noticed by polling`),
  }))
  const onSignal = (): void => {
    log.info({ signal: 'SIGHUP', reloading: reloadables.length }, 'reload signal received')
    for (const r of reloadables) void r.reload('SIGHUP')
  }
  signals.on('SIGHUP', onSignal)
  return () => {
    signals.off('SIGHUP', onSignal)
    for (const watch of watches) watch.close()
  }
}
