import type { DeliveredMessage, Transport } from '../transport/types.js'

/** How often a waiting reader looks again without a wake-up: redeliveries after a visibility timeout are not announced. */
export const REPOLL_MS = 1000

export interface WaitOptions {
  limit: number
  visibilityMs: number
  waitMs: number
  /** Aborted when the client goes away. */
  signal: AbortSignal
}

/**
 * Long-poll: read now; if nothing is there, wait for an arrival announcement (or a periodic re-read,
 * for redeliveries), until something arrives, the wait ends, or the client leaves.
 */
export async function waitForMessages(transport: Transport, recipient: string, options: WaitOptions): Promise<DeliveredMessage[]> {
  const deadline = Date.now() + options.waitMs
  for (;;) {
    const messages = await transport.read(recipient, { limit: options.limit, visibilityMs: options.visibilityMs, now: Date.now() })
    const remaining = deadline - Date.now()
    if (messages.length > 0 || remaining <= 0 || options.signal.aborted) return messages
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        unsubscribe()
        options.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, Math.min(remaining, REPOLL_MS))
      const unsubscribe = transport.onArrival(recipient, done)
      options.signal.addEventListener('abort', done)
    })
  }
}
