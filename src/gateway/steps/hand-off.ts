import { newMessageId } from '../../crypto/ids.js'
import { shownPermissions } from '../../permissions/sessions.js'
import { Problem } from '../../errors/problem.js'
import type { AcceptInput, AcceptResult, Message, NonceClaim, Transport } from '../../transport/types.js'
import type { OpenSockets } from '../open-sockets.js'
import { waitForMessages } from '../wait-for-messages.js'
import { required, type AuthorizationWatch, type GatewayContext, type StepResult } from '../context.js'
import { beforeEpoch, claimNonce, nonceClaim, replayedNonce, type NonceDeps } from './claim-nonce.js'
import { requestSha256 } from './message-identity.js'
import { deliveriesOf } from './sessions.js'

/** The last step of each runtime route: what it does once every check passed. */
export interface HandOffDeps {
  transport: Transport
  /** An unacknowledged message is delivered again after this long. */
  visibilityMs: number
  idempotencyTtlSeconds: number
  nonceTtlSeconds: number
  /** Keep a connection's authorization checked while it waits (the adapter binds the pipeline's connection steps). */
  watchAuthorization(ctx: GatewayContext, onEnd: (problem: Problem) => void): AuthorizationWatch
  sockets: OpenSockets
}

interface MessageBody {
  to: string
  session?: string
  kind: string
  payload: unknown
  reply_to?: string
  ttl_seconds?: number
  deliver_after?: number
  receipts?: boolean
}

const INBOX_FULL_RETRY_AFTER_SECONDS = 5
/**
 * A full inbox, or a sender's full share of it, clears only as the recipient acks: retry later. So does
 * a store at its high-water mark (as recipients ack, or as an operator makes room).
 */
const retryAfter = { headers: { 'retry-after': String(INBOX_FULL_RETRY_AFTER_SECONDS) } }

/**
 * POST /v1/messages: the transport stores the message and claims the nonce in one atomic operation.
 * The id is always the gateway's (`msg_<ulid>`); the sender's Idempotency-Key travels beside it.
 */
export async function handOff(ctx: GatewayContext, deps: HandOffDeps & NonceDeps): Promise<StepResult> {
  if (ctx.session !== undefined) return fanOut(ctx, deps, ctx.session.id, deliveriesOf(ctx))
  const body = ctx.request.json as MessageBody
  const message = newMessage(ctx, body, body.to)
  ctx.nonceClaimed = true
  const result = await accept(ctx, deps, message, nonceClaim(ctx, deps))
  switch (result.outcome) {
    case 'accepted': {
      const { id, from, to, kind, accepted_at } = result.message
      ctx.response = { status: 202, body: { id, from, to, kind, accepted_at } }
      return undefined
    }
    case 'duplicate':
      ctx.response = { status: 202, body: result.acceptance, headers: { 'mecha-idempotent-replay': 'true' } }
      return undefined
    default:
      return acceptRefusal(ctx, message, result)
  }
}

/** The message a POST /v1/messages stores for one recipient; the id is always the gateway's. */
function newMessage(ctx: GatewayContext, body: MessageBody, to: string, session?: string): Message {
  const message: Message = {
    id: newMessageId(ctx.now),
    from: required(ctx.key, 'key').mecha,
    to,
    kind: body.kind,
    payload: body.payload,
    reply_to: body.reply_to ?? null,
    idempotency_key: ctx.idempotencyKey ?? null,
    accepted_at: new Date(ctx.now).toISOString(),
  }
  if (session !== undefined) message.session = session
  // The sender's lifecycle fields, stored with the message as it sent them (assigned, not spread: the hot path).
  if (body.ttl_seconds !== undefined) message.ttl_seconds = body.ttl_seconds
  if (body.deliver_after !== undefined) message.deliver_after = body.deliver_after
  if (body.receipts !== undefined) message.receipts = body.receipts
  return message
}

function accept(ctx: GatewayContext, deps: HandOffDeps, message: Message, claim: NonceClaim | null): Promise<AcceptResult> {
  const idempotencyKey = message.idempotency_key
  const input: AcceptInput = {
    claim, now: ctx.now, message, idempotencyTtlSeconds: deps.idempotencyTtlSeconds,
    // A session message's copies share the sender's key: one record per recipient.
    idempotency: idempotencyKey === null ? null : { key: idempotencyKey, requestSha256: requestSha256(ctx.request), ...(message.session !== undefined ? { perRecipient: true } : {}) },
  }
  // When the transport may first deliver the message, and from when never (unix ms).
  if (message.deliver_after !== undefined) input.deliverAt = message.deliver_after * 1000
  if (message.ttl_seconds !== undefined) input.expiresAt = ctx.now + message.ttl_seconds * 1000
  return deps.transport.accept(input)
}

/**
 * A session message: one message per recipient, each its own id. The first accept records the nonce
 * (atomically with its message, as for any message); the others record none. The first refusal ends
 * the fan-out and is the answer: the recipients before it have their message. A retry with the same
 * Idempotency-Key (and a fresh nonce) completes it, each earlier recipient's copy being recognised
 * rather than stored twice (the key is kept per recipient).
 */
async function fanOut(ctx: GatewayContext, deps: HandOffDeps & NonceDeps, session: string, deliveries: readonly string[]): Promise<StepResult> {
  const body = ctx.request.json as MessageBody
  const accepted: Array<{ id: string; to: string }> = []
  let replayed = true
  let at = ''
  // To every other participant: the nonce is kept where a refusal before the hand-off keeps it (with
  // the caller; the body names no recipient), so a replay is `replayed_nonce` whenever it comes.
  // Recorded before the first delivery: a fault between the two costs the nonce, never a second copy.
  // With `to`, the first (only) accept records it with its message, as for any message.
  const claimedFirst = body.to === undefined
  if (claimedFirst) {
    const claimed = await claimNonce(ctx, deps)
    if (claimed !== undefined) return claimed
  }
  ctx.nonceClaimed = true
  for (const [i, to] of deliveries.entries()) {
    const message = newMessage(ctx, body, to, session)
    const result = await accept(ctx, deps, message, i === 0 && !claimedFirst ? nonceClaim(ctx, deps) : null)
    if (result.outcome === 'accepted') {
      replayed = false
      at = result.message.accepted_at
      accepted.push({ id: message.id, to })
    } else if (result.outcome === 'duplicate') {
      at ||= result.acceptance.accepted_at
      accepted.push({ id: result.acceptance.id, to })
    } else {
      return acceptRefusal(ctx, message, result)
    }
  }
  const answer = { session, from: required(ctx.key, 'key').mecha, kind: body.kind, accepted_at: at, messages: accepted }
  if (body.to !== undefined && accepted.length === 1) {
    const [one] = accepted as [{ id: string; to: string }]
    ctx.response = { status: 202, body: { id: one.id, from: answer.from, to: one.to, kind: body.kind, accepted_at: at, session }, ...(replayed ? { headers: { 'mecha-idempotent-replay': 'true' } } : {}) }
    return undefined
  }
  ctx.response = { status: 202, body: answer, ...(replayed ? { headers: { 'mecha-idempotent-replay': 'true' } } : {}) }
  return undefined
}

/** Every accept refusal, as the catalogue answers it. */
function acceptRefusal(ctx: GatewayContext, message: Message, result: Exclude<AcceptResult, { outcome: 'accepted' | 'duplicate' }>): StepResult {
  const key = required(ctx.key, 'key')
  const idempotencyKey = message.idempotency_key
  switch (result.outcome) {
    case 'idempotency_key_reused':
      return new Problem('idempotency_key_reused', `${key.mecha} already sent a different request with Idempotency-Key ${JSON.stringify(idempotencyKey)}; nothing was delivered`)
    case 'replayed':
      return replayedNonce()
    case 'before_epoch':
      return beforeEpoch(ctx)
    case 'inbox_full':
      return new Problem('inbox_full', `${message.to} has too many unacknowledged ${result.by === 'bytes' ? 'bytes (MECHA_INBOX_MAX_BYTES)' : 'messages'}`, retryAfter)
    case 'sender_share_exceeded':
      return new Problem('sender_share_exceeded',
        `${key.mecha} holds its share of ${message.to}'s inbox (${result.by === 'bytes' ? 'bytes' : 'messages'}, MECHA_INBOX_SENDER_SHARE); other senders are not affected`, retryAfter)
    case 'storage_full':
      return new Problem('storage_full', 'the service\'s storage is at its high-water mark: no new message is accepted until there is room; nothing was stored and the nonce was not recorded', retryAfter)
  }
  // A new outcome must be answered above: without a case it would fall through as a success with no response.
  const unanswered: never = result
  throw new Error(`unanswered accept outcome ${JSON.stringify(unanswered)}`)
}

/**
 * GET /v1/inbox: read, and with `wait` hold the request until a message arrives. While it waits the
 * connection's authorization is kept checked: a revocation, a rotation past the token it used, a
 * policy it no longer meets end the wait with that refusal (401), and nothing is read after it.
 */
export async function readInbox(ctx: GatewayContext, deps: HandOffDeps): Promise<StepResult> {
  const { wait, limit } = ctx.request.queryParams as { wait: number; limit: number }
  const result = await waitForMessages(deps.transport, required(ctx.key, 'key').mecha, {
    limit, visibilityMs: deps.visibilityMs, waitMs: wait * 1000, signal: ctx.request.signal,
    watch: (onEnd) => deps.watchAuthorization(ctx, onEnd),
  })
  if (result instanceof Problem) return result
  ctx.response = { status: 200, body: { messages: result } }
  return undefined
}

/** POST /v1/inbox/ack: only delivered, unacknowledged messages of the caller's own inbox are removed. */
export async function ackMessages(ctx: GatewayContext, deps: HandOffDeps): Promise<StepResult> {
  const { ids } = ctx.request.json as { ids: string[] }
  ctx.response = { status: 200, body: { acknowledged: await deps.transport.ack(required(ctx.key, 'key').mecha, ids) } }
  return undefined
}

/** GET /v1/whoami: what the key is, as the gateway sees it. */
export function whoami(ctx: GatewayContext): StepResult {
  const key = required(ctx.key, 'key')
  ctx.response = {
    status: 200,
    body: {
      mecha: key.mecha,
      key_id: key.id,
      permissions: shownPermissions(key),
      signature: key.signature,
      rate_limit: key.rate_limit,
      expires_at: key.expires_at,
      verified_by: ctx.verifiedBy,
      server_time: Math.floor(ctx.now / 1000),
    },
  }
  return undefined
}

/**
 * GET /v1/connect, before the upgrade completes (so a refusal is a problem+json response): a plain GET
 * is told to upgrade; a key holding all its sockets on this instance is refused.
 */
export function reserveSocket(ctx: GatewayContext, deps: HandOffDeps): StepResult {
  if (!ctx.request.upgrade) return new Problem('upgrade_required')
  if (deps.sockets.reserve(required(ctx.key, 'key').id, ctx.request.connection)) return undefined
  return new Problem('rate_limited',
    `this key already holds ${deps.sockets.maxPerKey} open WebSockets on this instance (MECHA_WS_MAX_PER_KEY); close one before opening another`)
}
