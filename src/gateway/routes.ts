import type { FastifyInstance } from 'fastify'
import { ackRequest, inboxQuery, messageRequest } from '../schemas/gateway.js'
import { deadLetterIdsRequest, deadLettersQuery, extendRequest, nackRequest, rejectRequest } from '../schemas/lifecycle.js'
import { modeName, modePutRequest } from '../schemas/modes.js'
import { sessionCancelRequest, sessionCommitRequest, sessionListQuery, sessionParams, sessionStartRequest } from '../schemas/sessions.js'
import type { RouteOptions } from './adapter.js'
import { connectRoute } from './websocket.js'

// Runtime GETs change state (a read delivers, every request spends a nonce): no implicit HEAD twin.
const noHead = { exposeHeadRoute: false } as const

/**
 * The runtime routes. Each names its entry in the pipeline table and lets the adapter run it; schema
 * errors are attached, not thrown, so the table decides when they are answered (after the nonce).
 */
export async function gatewayRoutes(app: FastifyInstance, options: RouteOptions): Promise<void> {
  const { adapter } = options
  app.post('/v1/messages', { config: { runtimeRoute: 'send' }, attachValidation: true, schema: { body: messageRequest } }, adapter.handler)
  app.get('/v1/inbox', { ...noHead, config: { runtimeRoute: 'inbox' }, attachValidation: true, schema: { querystring: inboxQuery } }, adapter.handler)
  app.post('/v1/inbox/ack', { config: { runtimeRoute: 'ack' }, attachValidation: true, schema: { body: ackRequest } }, adapter.handler)
  app.put('/v1/runtime/modes/:name', {
    config: { runtimeRoute: 'put-mode' }, attachValidation: true,
    schema: { params: { type: 'object', required: ['name'], properties: { name: modeName } }, body: modePutRequest },
  }, adapter.handler)
  app.post('/v1/sessions', { config: { runtimeRoute: 'start-session' }, attachValidation: true, schema: { body: sessionStartRequest } }, adapter.handler)
  app.get('/v1/sessions', { ...noHead, config: { runtimeRoute: 'list-sessions' }, attachValidation: true, schema: { querystring: sessionListQuery } }, adapter.handler)
  app.get('/v1/sessions/:id', { ...noHead, config: { runtimeRoute: 'get-session' }, attachValidation: true, schema: { params: sessionParams } }, adapter.handler)
  app.post('/v1/sessions/:id/commit', { config: { runtimeRoute: 'commit-session' }, attachValidation: true, schema: { params: sessionParams, body: sessionCommitRequest } }, adapter.handler)
  app.post('/v1/sessions/:id/cancel', { config: { runtimeRoute: 'cancel-session' }, attachValidation: true, schema: { params: sessionParams, body: sessionCancelRequest } }, adapter.handler)
  app.get('/v1/whoami', { ...noHead, config: { runtimeRoute: 'whoami' } }, adapter.handler)
  app.post('/v1/inbox/nack', { config: { runtimeRoute: 'nack' }, attachValidation: true, schema: { body: nackRequest } }, adapter.handler)
  app.post('/v1/inbox/extend', { config: { runtimeRoute: 'extend' }, attachValidation: true, schema: { body: extendRequest } }, adapter.handler)
  app.post('/v1/inbox/reject', { config: { runtimeRoute: 'reject' }, attachValidation: true, schema: { body: rejectRequest } }, adapter.handler)
  app.get('/v1/inbox/dead', { ...noHead, config: { runtimeRoute: 'dead-letters' }, attachValidation: true, schema: { querystring: deadLettersQuery } }, adapter.handler)
  app.post('/v1/inbox/dead/redrive', { config: { runtimeRoute: 'redrive' }, attachValidation: true, schema: { body: deadLetterIdsRequest } }, adapter.handler)
  app.post('/v1/inbox/dead/purge', { config: { runtimeRoute: 'purge' }, attachValidation: true, schema: { body: deadLetterIdsRequest } }, adapter.handler)
  await app.register(connectRoute, options)
}
