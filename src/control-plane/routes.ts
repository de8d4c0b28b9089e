import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AUDIT_TYPES, type AuditType } from '../model.js'
import { EVENT_ID_RE } from '../crypto/id-formats.js'
import { Problem } from '../errors/problem.js'
import { keyId, mechaId } from '../schemas/common.js'
import {
  keyIssueRequest, keyRotateRequest, keyUpdateRequest, mechaCreateRequest, mechaUpdateRequest,
} from '../schemas/control-plane.js'
import { modePutRequest, modeName } from '../schemas/modes.js'
import type { ModeActor, ModeInput } from './modes.js'
import type {
  Actor, ControlPlane, KeyIssueInput, KeyUpdateInput, MechaCreateInput, MechaUpdateInput,
} from './service.js'

const mechaParams = { type: 'object', required: ['id'], properties: { id: mechaId } } as const
const keyParams = { type: 'object', required: ['keyId'], properties: { keyId } } as const
const modeParams = { type: 'object', required: ['name'], properties: { name: modeName } } as const
const mechaPage = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
    after: mechaId,
  },
} as const
const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
    before: { type: 'string', maxLength: 26 },
    type: { type: 'string', enum: AUDIT_TYPES },
  },
} as const

function actor(request: FastifyRequest): Actor {
  if (request.operator === undefined) throw new Error('operator route reached without an operator')
  return { operator: request.operator.operator, requestId: request.id, log: request.log }
}

function modeActor(request: FastifyRequest): ModeActor {
  const { operator, requestId } = actor(request)
  return { kind: 'operator', operator, requestId }
}

/**
 * Control-plane routes. Each validates its input by schema and hands it to the ControlPlane. Their
 * operator scopes are declared in src/surfaces.ts.
 */
export async function controlPlaneRoutes(app: FastifyInstance, { controlPlane }: { controlPlane: ControlPlane }): Promise<void> {
  app.post<{ Body: MechaCreateInput }>('/v1/mechas', { schema: { body: mechaCreateRequest } }, async (request, reply) => {
    const mecha = await controlPlane.createMecha(actor(request), request.body)
    return reply.code(201).header('location', `/v1/mechas/${mecha.id}`).send({ mecha })
  })

  app.get<{ Querystring: { limit: number; after?: string } }>('/v1/mechas', { schema: { querystring: mechaPage } }, async (request) => {
    return controlPlane.listMechas(request.query.limit, request.query.after)
  })

  app.get<{ Params: { id: string } }>('/v1/mechas/:id', { schema: { params: mechaParams } }, async (request) => {
    return { mecha: await controlPlane.getMecha(request.params.id) }
  })

  app.patch<{ Params: { id: string }; Body: MechaUpdateInput }>('/v1/mechas/:id', { schema: { params: mechaParams, body: mechaUpdateRequest } }, async (request) => {
    return { mecha: await controlPlane.updateMecha(actor(request), request.params.id, request.body) }
  })

  app.delete<{ Params: { id: string } }>('/v1/mechas/:id', { schema: { params: mechaParams } }, async (request) => {
    return { mecha: await controlPlane.deactivateMecha(actor(request), request.params.id) }
  })

  app.post<{ Params: { id: string }; Body: KeyIssueInput | undefined }>('/v1/mechas/:id/keys', { schema: { params: mechaParams, body: keyIssueRequest } }, async (request, reply) => {
    const issued = await controlPlane.issueKey(actor(request), request.params.id, request.body ?? {})
    return reply.code(201).header('location', `/v1/keys/${issued.key.id}`).header('cache-control', 'no-store').send(issued)
  })

  app.get<{ Params: { id: string } }>('/v1/mechas/:id/keys', { schema: { params: mechaParams } }, async (request) => {
    return { keys: await controlPlane.listKeys(request.params.id) }
  })

  app.get<{ Params: { keyId: string } }>('/v1/keys/:keyId', { schema: { params: keyParams } }, async (request) => {
    return { key: await controlPlane.getKey(request.params.keyId) }
  })

  app.patch<{ Params: { keyId: string }; Body: KeyUpdateInput }>('/v1/keys/:keyId', { schema: { params: keyParams, body: keyUpdateRequest } }, async (request) => {
    return { key: await controlPlane.updateKey(actor(request), request.params.keyId, request.body) }
  })

  app.post<{ Params: { keyId: string } }>('/v1/keys/:keyId/revoke', { schema: { params: keyParams } }, async (request) => {
    return { key: await controlPlane.revokeKey(actor(request), request.params.keyId) }
  })

  app.post<{ Params: { keyId: string }; Body: { grace_seconds?: number } | undefined }>('/v1/keys/:keyId/rotate', { schema: { params: keyParams, body: keyRotateRequest } }, async (request, reply) => {
    const rotated = await controlPlane.rotateKey(actor(request), request.params.keyId, request.body?.grace_seconds ?? 0)
    return reply.header('cache-control', 'no-store').send(rotated)
  })

  // Reading modes is open (src/discovery/modes.ts); writing them is an operator's, or a key's with
  // permissions.sessions.can_manage_modes through the gateway.
  app.put<{ Params: { name: string }; Body: ModeInput }>('/v1/modes/:name', { schema: { params: modeParams, body: modePutRequest } }, async (request, reply) => {
    const put = await controlPlane.modes.put(modeActor(request), request.params.name, request.body)
    if (put.outcome === 'created') void reply.code(201).header('location', `/v1/modes/${put.mode.name}`)
    return reply.send({ mode: put.mode })
  })

  app.delete<{ Params: { name: string } }>('/v1/modes/:name', { schema: { params: modeParams } }, async (request, reply) => {
    await controlPlane.modes.delete(modeActor(request), request.params.name)
    return reply.code(204).send()
  })

  app.get<{ Querystring: { limit: number; before?: string; type?: AuditType } }>('/v1/audit', { schema: { querystring: auditQuery } }, async (request) => {
    const { limit, before, type } = request.query
    if (before !== undefined && !EVENT_ID_RE.test(before)) throw new Problem('invalid_cursor', '`before` must be an audit event id')
    return controlPlane.listAudit({ limit, before, type })
  })
}
