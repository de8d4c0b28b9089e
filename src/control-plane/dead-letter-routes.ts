import type { FastifyInstance, FastifyRequest } from 'fastify'
import { deadLetterPage } from '../lifecycle/dead-letter-view.js'
import { deadLetterIdsRequest, deadLettersQuery } from '../schemas/lifecycle.js'
import { mechaId } from '../schemas/common.js'
import type { Transport } from '../transport/types.js'
import type { ControlPlane } from './service.js'

const mechaParams = { type: 'object', required: ['id'], properties: { id: mechaId } } as const

/**
 * Operators' view of a mecha's dead letters (issue 14): GET lists them (keys:read), POST redrive
 * moves them back to its inbox (keys:write, audited as `mecha.dead_letters_redriven`). The scopes
 * come from src/surfaces.ts, as for every operator route.
 */
export async function deadLetterRoutes(app: FastifyInstance, { controlPlane, transport }: { controlPlane: ControlPlane; transport: Transport }): Promise<void> {
  app.get<{ Params: { id: string }; Querystring: { limit: number; after?: string } }>('/v1/mechas/:id/dead-letters',
    { schema: { params: mechaParams, querystring: deadLettersQuery } }, async (request) => {
      const { id } = request.params
      await controlPlane.requireMecha(id)
      const { limit, after } = request.query
      return deadLetterPage(await transport.deadLetters(id, { now: Date.now(), limit: limit + 1, ...(after === undefined ? {} : { after }) }), limit)
    })

  app.post<{ Params: { id: string }; Body: { ids: string[] } }>('/v1/mechas/:id/dead-letters/redrive',
    { schema: { params: mechaParams, body: deadLetterIdsRequest } }, async (request) => {
      const redriven = await controlPlane.redriveDeadLetters(actor(request), request.params.id, request.body.ids,
        (mecha, ids) => transport.redrive(mecha, ids, { now: Date.now() }))
      return { redriven }
    })
}

function actor(request: FastifyRequest): { operator: string; requestId: string; log: FastifyRequest['log'] } {
  if (request.operator === undefined) throw new Error('operator route reached without an operator')
  return { operator: request.operator.operator, requestId: request.id, log: request.log }
}
