import type { Problem } from '../errors/problem.js'
import { liveCredentials } from '../control-plane/key-view.js'
import type { AuthorizationWatch, GatewayContext, StepResult } from './context.js'
import type { RecordCache } from './record-cache.js'

/** While the change feed is down, how often an open connection re-reads its key (the store, then). */
const BACKSTOP_OFFLINE_MS = 1000
/** While the feed is live, the periodic check is only a safety net behind it. */
const BACKSTOP_LIVE_MS = 30_000
/** setTimeout's largest delay; a later expiry is re-armed by the backstop. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Keeps a connection's authorization true for its whole life (a WebSocket, a parked long-poll): it
 * re-runs the pipeline's connection steps (SOCKET_STEPS: would a new request with the same credential
 * be accepted?) when the change feed announces a change to the key or its mecha, when a time the key
 * carries is reached (its expiry, the end of a rotation's grace for the generation in use), and
 * periodically as a backstop. The first refusal ends the connection through `onEnd`, once.
 */
export class ConnectionAuthorization implements AuthorizationWatch {
  readonly #ctx: GatewayContext
  readonly #recheck: (ctx: GatewayContext) => StepResult | Promise<StepResult>
  readonly #onEnd: (problem: Problem) => void
  readonly #unsubscribe: () => void
  readonly #backstop: NodeJS.Timeout
  #expiryTimer: NodeJS.Timeout | undefined
  #lastCheck = Date.now()
  #ended: Problem | undefined
  #closed = false

  /** @param recheck the pipeline's connection steps (pipeline.ts SOCKET_STEPS), run on a copy of `ctx` */
  constructor(ctx: GatewayContext, deps: { records: RecordCache; recheck: (ctx: GatewayContext) => StepResult | Promise<StepResult> }, onEnd: (problem: Problem) => void) {
    this.#ctx = ctx
    this.#recheck = deps.recheck
    this.#onEnd = onEnd
    const key = ctx.key
    const mecha = key?.mecha
    this.#unsubscribe = deps.records.onChange((change) => {
      if (change === 'reset' || (change.kind === 'key' && change.id === key?.id) || (change.kind === 'mecha' && change.id === mecha)) this.#checkSoon()
    })
    this.#backstop = setInterval(() => {
      const every = deps.records.live ? BACKSTOP_LIVE_MS : BACKSTOP_OFFLINE_MS
      if (Date.now() - this.#lastCheck >= every) this.#checkSoon()
    }, BACKSTOP_OFFLINE_MS)
    this.#backstop.unref()
    this.#armExpiry(ctx)
  }

  /** The refusal that ended the connection, if one did. */
  get ended(): Problem | undefined {
    return this.#ended
  }

  /** Re-check now (before an ack removes anything, before a read delivers): the refusal, or undefined. */
  async check(): Promise<Problem | undefined> {
    if (this.#ended !== undefined) return this.#ended
    this.#lastCheck = Date.now()
    const ctx = { ...this.#ctx, now: Date.now() }
    const problem = await this.#recheck(ctx)
    if (problem !== undefined) this.#end(problem)
    else if (ctx.key !== undefined) this.#armExpiry(ctx)
    return problem
  }

  close(): void {
    this.#closed = true
    this.#unsubscribe()
    clearInterval(this.#backstop)
    clearTimeout(this.#expiryTimer)
  }

  #checkSoon(): void {
    // A fault (the store unreachable) is not a verdict: the next trigger or the backstop tries again.
    this.check().catch(() => undefined)
  }

  #end(problem: Problem): void {
    if (this.#ended !== undefined || this.#closed) return
    this.#ended = problem
    this.close()
    this.#onEnd(problem)
  }

  /** A timer at the next moment the key's own times could refuse the connection. */
  #armExpiry(ctx: GatewayContext): void {
    clearTimeout(this.#expiryTimer)
    const key = ctx.key
    if (key === undefined || this.#closed) return
    const times: number[] = []
    if (key.expires_at !== null) times.push(Date.parse(key.expires_at))
    const used = [ctx.proof.tokenGeneration, ctx.proof.signature?.generation]
    // Live as of the moment the check judged (ctx.now), not as of now: a check that passed just before a
    // grace ended and answered after it must still arm that end (the timer then fires at once).
    for (const c of liveCredentials(key, ctx.now)) if (c.expires_at !== null && used.includes(c.generation)) times.push(Date.parse(c.expires_at))
    if (times.length === 0) return
    const delay = Math.min(Math.max(0, Math.min(...times) - Date.now()), MAX_TIMER_MS)
    this.#expiryTimer = setTimeout(() => this.#checkSoon(), delay)
    this.#expiryTimer.unref()
  }
}
