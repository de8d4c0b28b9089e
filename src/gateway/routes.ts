import type { FastifyInstance } from 'fastify'
import { newEventId } from '../crypto/ids.js'
import { Problem } from '../errors/problem.js'
import { ackRequest, inboxQuery, messageRequest } from '../schemas/gateway.js'
import type { Message } from '../transport/types.js'
import { required } from './context.js'
import { checkMessage, claimNonce, nonceClaim } from './pipeline.js'
import { gatewayContext, refuse, type GatewayOptions } from './plugin.js'
import { staleTimestamp } from './steps/check-timestamp.js'
import { checkPayloadDepth } from './steps/message-checks.js'
import { waitForMessages } from './wait-for-messages.js'
import { connectRoute } from './websocket.js'

interface MessageBody {
  to: string
  kind: string
  payload: unknown
  from?: string
  id?: string
  reply_to?: string
}

// Runtime GETs change state (a read delivers, every request spends a nonce): no implicit HEAD twin.
const noHead = { exposeHeadRoute: false } as const
const INBOX_FULL_RETRY_AFTER_SECONDS = 5

export async function gatewayRoutes(app: FastifyInstance, options: GatewayOptions): Promise<void> {
  const { deps, transport } = options

  app.post<{ Body: MessageBody }>('/v1/messages', { config: { claimsNonce: true }, schema: { body: messageRequest } }, async (request, reply) => {
    const ctx = gatewayContext(request)
    const refusal = checkPayloadDepth(request.body.payload) ?? (await checkMessage(ctx, request.body, deps))
    if (refusal !== undefined) return refuse(request, reply, (await claimNonce(ctx, deps)) ?? refusal)

    const key = required(ctx.key, 'key')
    const body = request.body
    const message: Message = {
      id: body.id ?? `msg_${newEventId(ctx.now).toLowerCase()}`,
      from: key.mecha,
      to: body.to,
      kind: body.kind,
      payload: body.payload,
      reply_to: body.reply_to ?? null,
      accepted_at: new Date(ctx.now).toISOString(),
    }
    const result = await transport.accept({
      claim: nonceClaim(ctx, deps), message, idempotent: body.id !== undefined, idempotencyTtlSeconds: options.idempotencyTtlSeconds,
    })
    switch (result.outcome) {
      case 'accepted':
      case 'duplicate': {
        const { id, from, to, kind, accepted_at } = result.message
        if (result.outcome === 'duplicate') void reply.header('mecha-idempotent-replay', 'true')
        return reply.code(202).send({ id, from, to, kind, accepted_at })
      }
      case 'replayed':
        return refuse(request, reply, new Problem('replayed_nonce', 'this nonce was already used with this key; send a fresh one'))
      case 'before_epoch':
        return refuse(request, reply, staleTimestamp(Math.floor(ctx.now / 1000), 'the request is older than the replay cache\'s memory; sign it again with the current time'))
      case 'inbox_full':
        return refuse(request, reply, new Problem('inbox_full', `${message.to} has too many unacknowledged messages`, { headers: { 'retry-after': String(INBOX_FULL_RETRY_AFTER_SECONDS) } }))
    }
  })

  app.get<{ Querystring: { wait: number; limit: number } }>('/v1/inbox', { ...noHead, schema: { querystring: inboxQuery } }, async (request) => {
    const ctx = gatewayContext(request)
    // The wait ends when the client leaves or the server shuts down.
    const abort = new AbortController()
    request.raw.once('close', () => abort.abort())
    const signal = AbortSignal.any([abort.signal, app.shutdownSignal])
    const messages = await waitForMessages(transport, required(ctx.key, 'key').mecha, {
      limit: request.query.limit, visibilityMs: options.visibilityMs, waitMs: request.query.wait * 1000, signal,
    })
    return { messages }
  })

  app.post<{ Body: { ids: string[] } }>('/v1/inbox/ack', { schema: { body: ackRequest } }, async (request) => {
    const ctx = gatewayContext(request)
    return { acknowledged: await transport.ack(required(ctx.key, 'key').mecha, request.body.ids) }
  })

  app.get('/v1/whoami', noHead, async (request) => {
    const ctx = gatewayContext(request)
    const key = required(ctx.key, 'key')
    return {
      mecha: key.mecha,
      key_id: key.id,
      permissions: key.permissions,
      signature: key.signature,
      rate_limit: key.rate_limit,
      expires_at: key.expires_at,
      verified_by: ctx.verifiedBy,
      server_time: Math.floor(ctx.now / 1000),
    }
  })

  await app.register(connectRoute, options)
}
