import { Problem } from '../../errors/problem.js'
import { matchesAny } from '../../permissions/glob.js'
import type { RecordCache } from '../record-cache.js'
import { required, type GatewayContext, type StepResult } from '../context.js'
import { deliveriesOf } from './sessions.js'

/** The message fields the checks read (the route's schema has validated their shape). */
export interface MessageEnvelope {
  /** Absent only in a session (then the deliveries are its other participants). */
  to?: string
  kind: string
  from?: string
}

function envelope(ctx: GatewayContext): MessageEnvelope {
  return ctx.request.json as MessageEnvelope
}

/** The sender is the key's mecha, never the request's say-so: a differing `from` is refused. */
export function checkSender(ctx: GatewayContext): StepResult {
  const key = required(ctx.key, 'key')
  const { from } = envelope(ctx)
  if (from !== undefined && from !== key.mecha) {
    return new Problem('sender_mismatch', `this key acts for ${key.mecha}; omit \`from\` or set it to ${key.mecha}`)
  }
  return undefined
}

/**
 * The key's own permissions allow this recipient, this kind and this size. They are applied before
 * the recipient is looked up, so a key can learn nothing about mechas it may not address (whether
 * they exist, which kinds they accept).
 */
export function checkPermissions(ctx: GatewayContext): StepResult {
  const { permissions } = required(ctx.key, 'key')
  const message = envelope(ctx)
  for (const to of deliveriesOf(ctx)) {
    if (!matchesAny(permissions.recipients, to)) return new Problem('recipient_not_allowed', `this key may not send to ${to}`)
  }
  if (!matchesAny(permissions.kinds, message.kind)) return new Problem('kind_not_allowed', `this key may not send kind ${message.kind}`)
  const size = ctx.request.body?.byteLength ?? 0
  if (size > permissions.max_message_bytes) {
    return new Problem('message_too_large', `the message is ${size} bytes; this key allows ${permissions.max_message_bytes}`)
  }
  return undefined
}

/** Each recipient (the one `to`, or a session's participants) is a registered, active mecha that accepts the kind. */
export function checkRecipient(ctx: GatewayContext, deps: { records: RecordCache }): StepResult | Promise<StepResult> {
  const message = envelope(ctx)
  const deliveries = deliveriesOf(ctx)
  const check = (i: number): StepResult | Promise<StepResult> => {
    for (; i < deliveries.length; i++) {
      const to = deliveries[i] as string
      const recipient = deps.records.getMecha(to)
      const judge = (r: Awaited<typeof recipient>): StepResult => {
        if (r === undefined || r.status !== 'active') return new Problem('unknown_recipient', `no active mecha ${to}`)
        if (!matchesAny(r.accepts, message.kind)) return new Problem('kind_not_allowed', `${to} does not accept kind ${message.kind}`)
        return undefined
      }
      // Synchronous while the records are cached (the hot path allocates no promise).
      if (recipient instanceof Promise) {
        const next = i + 1
        return recipient.then((r) => judge(r) ?? check(next))
      }
      const problem = judge(recipient)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  return check(0)
}
