import { createHash } from 'node:crypto'
import { newMessageId } from '../crypto/ids.js'
import type { AcceptResult, DeadLetter, Message, Transport } from './types.js'

/** The kind of the message a sender receives when one of its messages is dead-lettered. */
export const DELIVERY_FAILED_KIND = 'mecha.delivery.failed'

/** The payload of a `mecha.delivery.failed` receipt (issue 14, item 5). */
export interface DeliveryFailedPayload {
  message_id: string
  to: string
  reason: DeadLetter['reason']
  deliveries: number
  /** RFC 3339. */
  dead_lettered_at: string
}

export interface ReceiptOptions {
  /** How long a receipt's idempotency record is kept (MECHA_IDEMPOTENCY_TTL_SECONDS). */
  idempotencyTtlSeconds: number
  /** Called when a receipt could not be stored (refused, or the store failed); receipts are best effort. */
  onUndelivered?: (deadLetter: DeadLetter, why: AcceptResult['outcome'] | Error) => void
  /** Told of what each read or reject dead-lettered, before the receipts are sent (the metrics). */
  onDeadLettered?: (deadLetters: readonly DeadLetter[]) => void
}

/**
 * The receipt for a dead letter, or undefined when none is sent: the sender opted out
 * (`receipts: false`), or the dead letter is itself a receipt (a receipt never begets another).
 *
 * It is written as coming from the inbox the message died in (the sender learns which recipient
 * gave up on it; the kind says the gateway wrote it), and carries the idempotency key
 * `receipt:<message id>`, so a receipt retried (a redriven message dead-lettered again, a retry
 * after a failure) is stored once per idempotency TTL.
 */
export function failureReceipt(deadLetter: DeadLetter, now: number): Message | undefined {
  const failed = deadLetter.message
  if (failed.receipts === false || failed.kind === DELIVERY_FAILED_KIND) return undefined
  const payload: DeliveryFailedPayload = {
    message_id: failed.id, to: failed.to, reason: deadLetter.reason, deliveries: deadLetter.deliveries,
    dead_lettered_at: new Date(deadLetter.deadLetteredAt).toISOString(),
  }
  return {
    id: newMessageId(now),
    from: failed.to,
    to: failed.from,
    kind: DELIVERY_FAILED_KIND,
    payload,
    reply_to: failed.id,
    idempotency_key: receiptKey(failed.id),
    accepted_at: new Date(now).toISOString(),
  }
}

/**
 * Stores a receipt for each dead letter that wants one, in its sender's inbox: a separate accept
 * (the sender's inbox may be in another slot), recording no nonce. Returns how many were stored (a
 * duplicate counts: it was stored before). Never throws: a refusal or a failure goes to
 * `onUndelivered`; the dead letter itself stays either way.
 */
export async function sendFailureReceipts(transport: Transport, deadLetters: readonly DeadLetter[], now: number, options: ReceiptOptions): Promise<number> {
  let stored = 0
  for (const deadLetter of deadLetters) {
    const receipt = failureReceipt(deadLetter, now)
    if (receipt === undefined) continue
    const key = receipt.idempotency_key as string
    try {
      const result = await transport.accept({
        claim: null, now, message: receipt, idempotency: { key, requestSha256: sha256Hex(key) }, idempotencyTtlSeconds: options.idempotencyTtlSeconds,
      })
      if (result.outcome === 'accepted' || result.outcome === 'duplicate') stored++
      else options.onUndelivered?.(deadLetter, result.outcome)
    } catch (err) {
      options.onUndelivered?.(deadLetter, err instanceof Error ? err : new Error(String(err)))
    }
  }
  return stored
}

/** The idempotency key of the receipt for a message. */
export function receiptKey(messageId: string): string {
  return `receipt:${messageId}`
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/**
 * The transport with failure receipts: whatever its reads and rejects dead-letter, the senders are
 * told of (sendFailureReceipts) before the call returns. Everything else is the transport's own. The
 * gateway wraps its transport once, so long-polls, WebSockets and the reject route all send them.
 *
 * A crash between the dead-letter move and the receipt's accept loses that receipt (the dead letter
 * itself is kept): receipts are at most once.
 */
export function withFailureReceipts(transport: Transport, options: ReceiptOptions): Transport {
  return {
    accept: (input) => transport.accept(input),
    async read(recipient, readOptions) {
      const result = await transport.read(recipient, readOptions)
      if (result.deadLettered.length > 0) {
        options.onDeadLettered?.(result.deadLettered)
        await sendFailureReceipts(transport, result.deadLettered, readOptions.now, options)
      }
      return result
    },
    ack: (recipient, ids) => transport.ack(recipient, ids),
    nack: (recipient, ids, nackOptions) => transport.nack(recipient, ids, nackOptions),
    extend: (recipient, ids, extendOptions) => transport.extend(recipient, ids, extendOptions),
    async reject(recipient, ids, rejectOptions) {
      const rejected = await transport.reject(recipient, ids, rejectOptions)
      if (rejected.length > 0) {
        options.onDeadLettered?.(rejected)
        await sendFailureReceipts(transport, rejected, rejectOptions.now, options)
      }
      return rejected
    },
    deadLetters: (recipient, listOptions) => transport.deadLetters(recipient, listOptions),
    redrive: (recipient, ids, redriveOptions) => transport.redrive(recipient, ids, redriveOptions),
    purge: (recipient, ids, purgeOptions) => transport.purge(recipient, ids, purgeOptions),
    onArrival: (recipient, listener) => transport.onArrival(recipient, listener),
    ping: () => transport.ping(),
    close: () => transport.close(),
  }
}
