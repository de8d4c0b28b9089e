import type { Problem } from '../errors/problem.js'
import type { DeliveredMessage, Transport } from '../transport/types.js'
import type { AuthorizationWatch } from './context.js'

/** How often a waiting reader looks again without a wake-up: redeliveries after a visibility timeout are not announced. */
export const REPOLL_MS = 1000

export interface WaitOptions {
  limit: number
  visibilityMs: number
  waitMs: number
  /** Aborted when the client goes away. */
  signal: AbortSignal
  /** Start watching the connection's authorization (only once the request actually waits). */
  watch(onEnd: () => void): AuthorizationWatch
}

/**
 * Long-poll: read now; if nothing is there, wait for an arrival announcement (or a periodic re-read,
 * for redeliveries), until something arrives, the wait ends, or the client leaves. After every wait
 * the authorization is checked again before anything is read: a refusal ends the poll and is returned.
 */
export async function waitForMessages(transport: Transport, recipient: string, options: WaitOptions): Promise<DeliveredMessage[] | Problem> {
  const deadline = Date.now() + options.waitMs
  let authorization: AuthorizationWatch | undefined
  let wake: (() => void) | undefined
  try {
    for (;;) {
      if (authorization !== undefined) {
        const refused = await authorization.check()
        if (refused !== undefined) return refused
      }
      const messages = await transport.read(recipient, { limit: options.limit, visibilityMs: options.visibilityMs, now: Date.now() })
      const remaining = deadline - Date.now()
      if (messages.length > 0 || remaining <= 0 || options.signal.aborted) return messages
      authorization ??= options.watch(() => wake?.())
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer)
          unsubscribe()
          options.signal.removeEventListener('abort', done)
          wake = undefined
          resolve()
        }
        wake = done
        const timer = setTimeout(done, Math.min(remaining, REPOLL_MS))
        const unsubscribe = transport.onArrival(recipient, done)
        options.signal.addEventListener('abort', done)
      })
    }
  } finally {
    authorization?.close()
  }
}
