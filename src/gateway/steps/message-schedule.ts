import { Problem } from '../../errors/problem.js'
import { MAX_DELIVER_AFTER_SECONDS } from '../../schemas/gateway.js'
import type { GatewayContext, StepResult } from '../context.js'

/**
 * POST /v1/messages `deliver_after`: at most 7 days ahead of server time (the schema has checked it
 * is an integer; how far ahead depends on the clock, so it is checked here).
 */
export function checkMessageSchedule(ctx: GatewayContext): StepResult {
  const { deliver_after: deliverAfter } = ctx.request.json as { deliver_after?: number }
  if (deliverAfter === undefined) return undefined
  const latest = Math.floor(ctx.now / 1000) + MAX_DELIVER_AFTER_SECONDS
  if (deliverAfter > latest) return new Problem('invalid_request', `deliver_after may be at most 7 days ahead (${latest} now), got ${deliverAfter}`)
  return undefined
}
