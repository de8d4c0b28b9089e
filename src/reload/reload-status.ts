/** A file the process re-reads while running; the name is the `source` label of the reload metrics. */
export type ReloadSource = 'operator_tokens' | 'tls_certificate'

/** What each source's setting is called, for messages: the variable an operator would look up. */
const VARIABLE_OF: Record<ReloadSource, string> = {
  operator_tokens: 'MECHA_OPERATOR_TOKENS_FILE',
  tls_certificate: 'MECHA_TLS_CERT_PATH / MECHA_TLS_KEY_PATH',
}

export interface ReloadReport {
  name: ReloadSource
  /** False when the last attempt failed: the previous contents are still in force. */
  ok: boolean
  /** When the contents in force were loaded (at start, or by the last successful reload). */
  last_success_at: string
  last_failure_at: string | null
  detail?: string
}

/**
 * The outcome of one source's reloads, read by /readyz and /metrics. It holds no contents and no
 * error text: the file path and the problem go to the log only, as the open routes must not show
 * them.
 */
export class ReloadStatus {
  readonly source: ReloadSource
  #lastSuccessMs: number
  #lastFailureMs: number | undefined
  #failing = false
  #failures = 0

  constructor(source: ReloadSource, now: number = Date.now()) {
    this.source = source
    this.#lastSuccessMs = now
  }

  succeeded(now: number = Date.now()): void {
    this.#lastSuccessMs = now
    this.#failing = false
  }

  failed(now: number = Date.now()): void {
    this.#lastFailureMs = now
    this.#failing = true
    this.#failures += 1
  }

  get failing(): boolean {
    return this.#failing
  }

  /** Failed attempts since start (a Prometheus counter). */
  get failures(): number {
    return this.#failures
  }

  get lastSuccessMs(): number {
    return this.#lastSuccessMs
  }

  report(): ReloadReport {
    return {
      name: this.source,
      ok: !this.#failing,
      last_success_at: new Date(this.#lastSuccessMs).toISOString(),
      last_failure_at: this.#lastFailureMs === undefined ? null : new Date(this.#lastFailureMs).toISOString(),
      ...(this.#failing ? { detail: `the last reload of ${VARIABLE_OF[this.source]} failed; the previous contents stay in force (see the log)` } : {}),
    }
  }
}
