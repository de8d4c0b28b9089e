import { toProblem } from '../../errors/handler.js'
import type { GatewayContext, StepResult } from '../context.js'

/**
 * The body parsed: media type, JSON syntax, nesting (the parser only noted what was wrong). Answered
 * here, after authentication, so a malformed body from an authenticated caller records its nonce like
 * every other refusal after the credential, and never before it.
 */
export function checkBody(ctx: GatewayContext): StepResult {
  return ctx.request.bodyProblem
}

/** The route's JSON Schema (body and query), as Fastify validated it. */
export function checkSchema(ctx: GatewayContext): StepResult {
  const error = ctx.request.validationError
  return error === undefined ? undefined : toProblem(error).problem
}
