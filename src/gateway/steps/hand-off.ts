import { newEventId } from '../../crypto/ids.js'
import { shownPermissions } from '../../permissions/sessions.js'
import { Problem } from '../../errors/problem.js'
import type { Message, Transport } from '../../transport/types.js'
import type { OpenSockets } from '../open-sockets.js'
import { waitForMessages } from '../wait-for-messages.js'
import { required, type AuthorizationWatch, type GatewayContext, type StepResult } from '../context.js'
import { beforeEpoch, nonceClaim, replayedNonce } from './claim-nonce.js'
import { requestSha256 } from './message-identity.js'

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
export async function handOff(ctx: GatewayContext, deps: HandOffDeps): Promise<StepResult> {
  const key = required(ctx.key, 'key')
  const body = ctx.request.json as MessageBody
  const idempotencyKey = ctx.idempotencyKey ?? null
  const message: Message = {
    id: `msg_${newEventId(ctx.now).toLowerCase()}`,
    from: key.mecha,
    to: body.to,
    kind: body.kind,
    payload: body.payload,
    reply_to: body.reply_to ?? null,
    idempotency_key: idempotencyKey,
    accepted_at: new Date(ctx.now).toISOString(),
    ...lifecycleFields(body),
  }
  ctx.nonceClaimed = true
  const result = await deps.transport.accept({
    claim: nonceClaim(ctx, deps), message, idempotencyTtlSeconds: deps.idempotencyTtlSeconds,
    idempotency: idempotencyKey === null ? null : { key: idempotencyKey, requestSha256: requestSha256(ctx.request) },
    ...schedule(body, ctx.now),
  })
  switch (result.outcome) {
    case 'accepted': {
      const { id, from, to, kind, accepted_at } = result.message
      ctx.response = { status: 202, body: { id, from, to, kind, accepted_at } }
      return undefined
    }
    case 'duplicate':
      ctx.response = { status: 202, body: result.acceptance, headers: { 'mecha-idempotent-replay': 'true' } }
      return undefined
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

/** The sender's lifecycle fields, stored with the message as it sent them. */
function lifecycleFields(body: MessageBody): Pick<Message, 'ttl_seconds' | 'deliver_after' | 'receipts'> {
  return {
    ...(body.ttl_seconds === undefined ? {} : { ttl_seconds: body.ttl_seconds }),
    ...(body.deliver_after === undefined ? {} : { deliver_after: body.deliver_after }),
    ...(body.receipts === undefined ? {} : { receipts: body.receipts }),
  }
}

/** When the transport may first deliver the message, and from when never (unix ms). */
function schedule(body: MessageBody, now: number): { deliverAt?: number; expiresAt?: number } {
  return {
    ...(body.deliver_after === undefined ? {} : { deliverAt: body.deliver_after * 1000 }),
    ...(body.ttl_seconds === undefined ? {} : { expiresAt: now + body.ttl_seconds * 1000 }),
  }
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
