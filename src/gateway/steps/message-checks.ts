import { Problem } from '../../errors/problem.js'
import { matchesAny } from '../../permissions/glob.js'
import type { RecordCache } from '../record-cache.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

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
  if (ctx.deliveries === undefined) {
    if (!matchesAny(permissions.recipients, message.to as string)) return new Problem('recipient_not_allowed', `this key may not send to ${message.to as string}`)
  } else {
    for (const to of ctx.deliveries) {
      if (!matchesAny(permissions.recipients, to)) return new Problem('recipient_not_allowed', `this key may not send to ${to}`)
    }
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
  if (ctx.deliveries === undefined) return checkOneRecipient(deps.records, message.to as string, message.kind)
  return ctx.deliveries.reduce<StepResult | Promise<StepResult>>((previous, to) => {
    if (previous instanceof Promise) return previous.then((p) => p ?? checkOneRecipient(deps.records, to, message.kind))
    return previous ?? checkOneRecipient(deps.records, to, message.kind)
  }, undefined)
}

/** Synchronous while the record is cached (the hot path allocates no promise). */
function checkOneRecipient(records: RecordCache, to: string, kind: string): StepResult | Promise<StepResult> {
  const recipient = records.getMecha(to)
  const judge = (r: Awaited<typeof recipient>): StepResult => {
    if (r === undefined || r.status !== 'active') return new Problem('unknown_recipient', `no active mecha ${to}`)
    if (!matchesAny(r.accepts, kind)) return new Problem('kind_not_allowed', `${to} does not accept kind ${kind}`)
    return undefined
  }
  return recipient instanceof Promise ? recipient.then(judge) : judge(recipient)
}
