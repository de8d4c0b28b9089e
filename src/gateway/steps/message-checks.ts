import { Problem } from '../../errors/problem.js'
import { matchesAny } from '../../permissions/glob.js'
import type { RecordCache } from '../record-cache.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/** The message fields the checks read (the route's schema has validated their shape). */
export interface MessageEnvelope {
  to: string
  kind: string
  from?: string
}

/** Deepest nesting a payload may have. Deeper JSON parses, but would overflow encoders downstream. */
export const MAX_PAYLOAD_DEPTH = 64

/** The payload nests at most MAX_PAYLOAD_DEPTH levels (measured without recursion). */
export function checkPayloadDepth(payload: unknown): StepResult {
  const stack: [unknown, number][] = [[payload, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number]
    if (typeof value !== 'object' || value === null) continue
    if (depth > MAX_PAYLOAD_DEPTH) return new Problem('invalid_request', `payload nests deeper than ${MAX_PAYLOAD_DEPTH} levels`)
    for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push([child, depth + 1])
  }
  return undefined
}

/** The sender is the key's mecha, never the request's say-so: a differing `from` is refused. */
export function checkSender(ctx: GatewayContext, message: MessageEnvelope): StepResult {
  const key = required(ctx.key, 'key')
  if (message.from !== undefined && message.from !== key.mecha) {
    return new Problem('sender_mismatch', `this key acts for ${key.mecha}; omit \`from\` or set it to ${key.mecha}`)
  }
  return undefined
}

/** The recipient is a registered, active mecha. */
export async function checkRecipient(_ctx: GatewayContext, message: MessageEnvelope, deps: { records: RecordCache }): Promise<StepResult> {
  const recipient = await deps.records.getMecha(message.to)
  if (recipient === undefined || recipient.status !== 'active') return new Problem('unknown_recipient', `no active mecha ${message.to}`)
  if (!matchesAny(recipient.accepts, message.kind)) {
    return new Problem('kind_not_allowed', `${message.to} does not accept kind ${message.kind}`)
  }
  return undefined
}

/** The key's permissions allow this recipient, this kind and this size. */
export function checkPermissions(ctx: GatewayContext, message: MessageEnvelope): StepResult {
  const { permissions } = required(ctx.key, 'key')
  if (!matchesAny(permissions.recipients, message.to)) return new Problem('recipient_not_allowed', `this key may not send to ${message.to}`)
  if (!matchesAny(permissions.kinds, message.kind)) return new Problem('kind_not_allowed', `this key may not send kind ${message.kind}`)
  const size = ctx.request.body?.byteLength ?? 0
  if (size > permissions.max_message_bytes) {
    return new Problem('message_too_large', `the message is ${size} bytes; this key allows ${permissions.max_message_bytes}`)
  }
  return undefined
}
