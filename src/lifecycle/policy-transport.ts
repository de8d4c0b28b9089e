import type { Transport } from '../transport/types.js'
import type { DeliverySettings } from '../model.js'
import { transportPolicy } from './delivery-policy.js'

/** The delivery policy in effect for a recipient mecha (its overrides over the configured defaults). */
export type PolicyLookup = (mecha: string) => Promise<DeliverySettings>

/**
 * The transport with each recipient's delivery policy: a read, nack or reject that brings no
 * `policy` of its own is given the recipient's, and a read's `visibilityMs` becomes the recipient's
 * `visibility_seconds` (the caller's is the configured default, MECHA_VISIBILITY_TIMEOUT_SECONDS).
 * So the long-poll, the WebSocket and the inbox routes apply the operator's PATCH without knowing
 * of it. The lookup is the gateway's record cache, which the change feed keeps fresh.
 */
export function withDeliveryPolicies(transport: Transport, lookup: PolicyLookup): Transport {
  const policyOf = async (mecha: string): Promise<ReturnType<typeof transportPolicy>> => transportPolicy(await lookup(mecha))
  return {
    accept: (input) => transport.accept(input),
    async read(recipient, options) {
      if (options.policy !== undefined) return transport.read(recipient, options)
      const { visibilityMs, policy } = await policyOf(recipient)
      return transport.read(recipient, { ...options, visibilityMs, policy })
    },
    ack: (recipient, ids) => transport.ack(recipient, ids),
    async nack(recipient, ids, options) {
      if (options.policy !== undefined) return transport.nack(recipient, ids, options)
      return transport.nack(recipient, ids, { ...options, policy: (await policyOf(recipient)).policy })
    },
    extend: (recipient, ids, options) => transport.extend(recipient, ids, options),
    async reject(recipient, ids, options) {
      if (options.policy !== undefined) return transport.reject(recipient, ids, options)
      return transport.reject(recipient, ids, { ...options, policy: (await policyOf(recipient)).policy })
    },
    deadLetters: (recipient, options) => transport.deadLetters(recipient, options),
    redrive: (recipient, ids, options) => transport.redrive(recipient, ids, options),
    purge: (recipient, ids, options) => transport.purge(recipient, ids, options),
    onArrival: (recipient, listener) => transport.onArrival(recipient, listener),
    ping: () => transport.ping(),
    close: () => transport.close(),
  }
}
