import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { parseOperatorTokensFile } from '../config/load.js'
import type { StaticOperatorToken } from '../config/schema.js'
import type { ReloadStatus } from '../reload/reload-status.js'
import type { ReloadLog, ReloadTrigger } from '../reload/reload-trigger.js'
import type { OperatorAuthenticator } from './operator-auth.js'
import type { ControlPlane, OperatorTokensReloadCounts } from './service.js'

export interface OperatorTokensReloaderOptions {
  path: string
  /** Tokens configured outside the file (MECHA_OPERATOR_TOKENS, a generated development token): kept by every reload. */
  alongside: readonly StaticOperatorToken[]
  authenticator: OperatorAuthenticator
  controlPlane: Pick<ControlPlane, 'recordOperatorTokensReload'>
  status: ReloadStatus
  log: ReloadLog
}

/**
 * Re-reads MECHA_OPERATOR_TOKENS_FILE. A valid file replaces the set in force at once; an invalid
 * one (unreadable, not JSON, a short or repeated token) changes nothing, and the failure goes to the
 * log (naming the file and the token's position, never a token), the reload status (/readyz,
 * /metrics). Reloads run one at a time; one requested meanwhile runs after, on the newest contents.
 */
export class OperatorTokensReloader {
  readonly #options: OperatorTokensReloaderOptions
  #running: Promise<void> = Promise.resolve()

  constructor(options: OperatorTokensReloaderOptions) {
    this.#options = options
  }

  reload(trigger: ReloadTrigger): Promise<void> {
    this.#running = this.#running.then(() => this.#reload(trigger))
    return this.#running
  }

  async #reload(trigger: ReloadTrigger): Promise<void> {
    const { path, alongside, authenticator, status, log } = this.#options
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      status.failed()
      log.error({ file: path, trigger, code: (err as NodeJS.ErrnoException).code ?? 'error' }, 'operator tokens reload failed: cannot read the file; the previous tokens stay in force')
      return
    }
    const { tokens, problems } = parseOperatorTokensFile(text, alongside)
    if (problems.length > 0) {
      status.failed()
      log.error({ file: path, trigger, problems }, 'operator tokens reload failed: the file is invalid; the previous tokens stay in force')
      return
    }
    const kept = new Set(alongside.map((t) => t.digest.toString('hex')))
    const previous = authenticator.tokens.filter((t) => !kept.has(t.digest.toString('hex')))
    // Revocation must not wait for anything: the new set is in force before the audit write.
    authenticator.replaceTokens([...tokens, ...alongside])
    status.succeeded()
    const counts = compareTokenSets(previous, tokens)
    log.info({ file: path, trigger, ...counts }, 'operator tokens reloaded')
    if (tokens.length + alongside.length === 0) log.warn({ file: path }, 'the operator tokens file lists no token: no static operator token is accepted')
    if (counts.added + counts.removed + counts.changed === 0) return
    try {
      await this.#options.controlPlane.recordOperatorTokensReload(`reload_${randomUUID().replaceAll('-', '')}`, counts)
    } catch (err) {
      log.error({ err, file: path }, 'operator tokens reloaded, but the audit event could not be written')
    }
  }
}

function compareTokenSets(before: readonly StaticOperatorToken[], after: readonly StaticOperatorToken[]): OperatorTokensReloadCounts {
  const old = new Map(before.map((t) => [t.digest.toString('hex'), t]))
  let added = 0
  let changed = 0
  for (const token of after) {
    const previous = old.get(token.digest.toString('hex'))
    if (previous === undefined) added += 1
    else if (identityKey(previous) !== identityKey(token)) changed += 1
    old.delete(token.digest.toString('hex'))
  }
  return { tokens: after.length, added, removed: old.size, changed }
}

function identityKey(token: StaticOperatorToken): string {
  return `${token.identity.operator}\u0000${[...token.identity.scopes].sort().join(',')}`
}
