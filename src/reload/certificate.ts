import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import type { ReloadStatus } from './reload-status.js'
import type { ReloadLog, ReloadTrigger } from './reload-trigger.js'

export interface CertificatePair {
  cert: Buffer
  key: Buffer
  /** SHA-256 fingerprint of the leaf certificate: public, safe to log. */
  fingerprint256: string
  validTo: string
}

/** Why a pair cannot be used: the file at fault and a message that holds no key material. */
export interface CertificateProblem {
  file: string
  problem: string
}

/**
 * Read and check a PEM certificate and its key, at start and on every reload. OpenSSL's own error
 * text is not passed on (only its code): the messages name the file and what is wrong with it.
 */
export async function readCertificatePair(certPath: string, keyPath: string): Promise<CertificatePair | CertificateProblem> {
  let cert: Buffer
  let key: Buffer
  try {
    cert = await readFile(certPath)
  } catch (err) {
    return { file: certPath, problem: `cannot read the certificate (${(err as NodeJS.ErrnoException).code ?? 'error'})` }
  }
  try {
    key = await readFile(keyPath)
  } catch (err) {
    return { file: keyPath, problem: `cannot read the private key (${(err as NodeJS.ErrnoException).code ?? 'error'})` }
  }
  let leaf: X509Certificate
  try {
    leaf = new X509Certificate(cert)
  } catch (err) {
    return { file: certPath, problem: `not a PEM certificate (${codeOf(err)})` }
  }
  let privateKey: ReturnType<typeof createPrivateKey>
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    return { file: keyPath, problem: `not a PEM private key, or an encrypted one (${codeOf(err)})` }
  }
  if (!leaf.checkPrivateKey(privateKey)) return { file: keyPath, problem: `the private key does not belong to the certificate in ${certPath}` }
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    return { file: certPath, problem: `the pair cannot be used for TLS (${codeOf(err)})` }
  }
  return { cert, key, fingerprint256: leaf.fingerprint256, validTo: leaf.validTo }
}

function codeOf(err: unknown): string {
  return (err as { code?: unknown }).code?.toString() ?? 'invalid'
}

export function isCertificateProblem(result: CertificatePair | CertificateProblem): result is CertificateProblem {
  return 'problem' in result
}

export interface CertificateReloaderOptions {
  certPath: string
  keyPath: string
  /** The listening HTTPS server: `setSecureContext` applies to new connections, open ones keep theirs. */
  server: { setSecureContext(options: { cert: Buffer; key: Buffer }): void }
  status: ReloadStatus
  log: ReloadLog
}

/** Re-reads the certificate pair; an invalid pair changes nothing and is logged (file named, no key material). */
export class CertificateReloader {
  readonly #options: CertificateReloaderOptions
  #running: Promise<void> = Promise.resolve()

  constructor(options: CertificateReloaderOptions) {
    this.#options = options
  }

  reload(trigger: ReloadTrigger): Promise<void> {
    this.#running = this.#running.then(() => this.#reload(trigger))
    return this.#running
  }

  async #reload(trigger: ReloadTrigger): Promise<void> {
    const { certPath, keyPath, server, status, log } = this.#options
    const pair = await readCertificatePair(certPath, keyPath)
    if (isCertificateProblem(pair)) {
      status.failed()
      log.error({ file: pair.file, trigger, problem: pair.problem }, 'TLS certificate reload failed; the certificate in force is kept')
      return
    }
    try {
      server.setSecureContext({ cert: pair.cert, key: pair.key })
    } catch (err) {
      status.failed()
      log.error({ file: certPath, trigger, code: codeOf(err) }, 'TLS certificate reload failed; the certificate in force is kept')
      return
    }
    status.succeeded()
    log.info({ file: certPath, trigger, fingerprint256: pair.fingerprint256, valid_to: pair.validTo }, 'TLS certificate reloaded')
  }
}
