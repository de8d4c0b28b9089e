import type { Problem } from '../errors/problem.js'
import type { DeliveredMessage, ReadResult, Transport } from '../transport/types.js'
import type { AuthorizationWatch } from './context.js'

/**
 * A waiting reader with nothing due reads again after this long even without a wake-up: the backstop
 * for an arrival announcement lost on the way (pub/sub is best effort) and for in-flight messages the
 * transport could not date. Everything else wakes it: an arrival, or the next redelivery falling due.
 */
export const SAFETY_READ_MS = 30_000
/** Added to a redelivery's due time: a timer a millisecond early would find it not yet visible and read twice. */
const DUE_MARGIN_MS = 10

/** How long a reader that found nothing may sleep before it must read again (without a wake-up). */
export function sleepBeforeNextRead(read: ReadResult, now: number): number {
  if (read.nextDueAt === undefined) return SAFETY_READ_MS
  return Math.min(SAFETY_READ_MS, Math.max(0, read.nextDueAt - now) + DUE_MARGIN_MS)
}

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
 * Long-poll: read now; if nothing is there, sleep until an arrival announcement, the next redelivery
 * falling due, or the safety read, until something is delivered, the wait ends, or the client leaves.
 * After every sleep the authorization is checked again before anything is read: a refusal ends the
 * poll and is returned. A wait that runs out asleep ends without a last read.
 *
 * The arrival listener is in place before the first read, so an accept that lands between a read and
 * the sleep is not missed (it would otherwise wait for the safety read).
 */
export async function waitForMessages(transport: Transport, recipient: string, options: WaitOptions): Promise<DeliveredMessage[] | Problem> {
  const deadline = Date.now() + options.waitMs
  let authorization: AuthorizationWatch | undefined
  let woken = false
  let wake: (() => void) | undefined
  const rouse = (): void => {
    woken = true
    wake?.()
  }
  const unsubscribe = options.waitMs > 0 ? transport.onArrival(recipient, rouse) : () => undefined
  try {
    for (;;) {
      if (authorization !== undefined) {
        const refused = await authorization.check()
        if (refused !== undefined) return refused
        // Slept to the end of the wait, or the client left, with nothing woken: a read now would find
        // only what the client's next poll reads first anyway (and a departed client would lose it
        // to the visibility timeout).
        if (!woken && (Date.now() >= deadline || options.signal.aborted)) return []
      }
      woken = false
      const read = await transport.read(recipient, { limit: options.limit, visibilityMs: options.visibilityMs, now: Date.now() })
      const now = Date.now()
      const remaining = deadline - now
      if (read.messages.length > 0 || remaining <= 0 || options.signal.aborted) return read.messages
      authorization ??= options.watch(rouse)
      if (woken) continue
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer)
          options.signal.removeEventListener('abort', done)
          wake = undefined
          resolve()
        }
        wake = done
        const timer = setTimeout(done, Math.min(remaining, sleepBeforeNextRead(read, now)))
        options.signal.addEventListener('abort', done)
      })
    }
  } finally {
    unsubscribe()
    authorization?.close()
  }
}
