import { deadLetterPage } from '../../lifecycle/dead-letter-view.js'
import { required, type GatewayContext, type StepResult } from '../context.js'
import type { HandOffDeps } from './hand-off.js'

/**
 * The recipient's controls over its own inbox (issue 14). Each moves only delivered, unacknowledged
 * messages (or dead letters) of the caller's own mecha: the transport is always asked with the
 * key's mecha as the recipient, so another mecha's ids match nothing. The recipient's delivery policy
 * and the failure receipts come with the gateway's transport (build.ts).
 */
type Ids = { ids: string[] }

/** POST /v1/inbox/nack `{ids, delay_seconds?}`. */
export async function nackMessages(ctx: GatewayContext, deps: HandOffDeps): Promise<StepResult> {
  const { ids, delay_seconds: delay } = ctx.request.json as Ids & { delay_seconds?: number }
  const nacked = await deps.transport.nack(mechaOf(ctx), ids, { now: ctx.now, ...(delay === undefined ? {} : { delayMs: delay * 1000 }) })
  ctx.response = { status: 200, body: { nacked } }
  return undefined
}

/** POST /v1/inbox/extend `{ids, seconds}`. */
export async function extendMessages(ctx: GatewayContext, deps: HandOffDeps): Promise<StepResult> {
  const { ids, seconds } = ctx.request.json as Ids & { seconds: number }
  ctx.response = { status: 200, body: { extended: await deps.transport.extend(mechaOf(ctx), ids, { now: ctx.now, visibilityMs: seconds * 1000 }) } }
  return undefined
}

/** POST /v1/inbox/reject `{ids, reason?}`: dead-lettered now, reason `rejected`, the senders told. */
export async function rejectMessages(ctx: GatewayContext, deps: HandOffDeps): Promise<StepResult> {
  const { ids, reason } = ctx.request.json as Ids & { reason?: string }
  const rejected = await deps.transport.reject(mechaOf(ctx), ids, { now: ctx.now, ...(reason === undefined ? {} : { detail: reason }) })
  ctx.response = { status: 200, body: { rejected: rejected.length } }
  return undefined
}

/** GET /v1/inbox/dead `?limit=&after=`: the caller's dead letters, by message id. */
export async function listDeadLetters(ctx: GatewayContext, deps: HandOffDeps): Promise<StepResult> {
  const { limit, after } = ctx.request.queryParams as { limit: number; after?: string }
  const page = await deps.transport.deadLetters(mechaOf(ctx), { now: ctx.now, limit: limit + 1, ...(after === undefined ? {} : { after }) })
  ctx.response = { status: 200, body: deadLetterPage(page, limit) }
  return undefined
}

/** POST /v1/inbox/dead/redrive `{ids}`: back to the inbox, same id, delivery count afresh. */
export async function redriveDeadLetters(ctx: GatewayContext, deps: HandOffDeps): Promise<StepResult> {
  const { ids } = ctx.request.json as Ids
  ctx.response = { status: 200, body: { redriven: await deps.transport.redrive(mechaOf(ctx), ids, { now: ctx.now }) } }
  return undefined
}

/** POST /v1/inbox/dead/purge `{ids}`. */
export async function purgeDeadLetters(ctx: GatewayContext, deps: HandOffDeps): Promise<StepResult> {
  const { ids } = ctx.request.json as Ids
  ctx.response = { status: 200, body: { purged: await deps.transport.purge(mechaOf(ctx), ids, { now: ctx.now }) } }
  return undefined
}

function mechaOf(ctx: GatewayContext): string {
  return required(ctx.key, 'key').mecha
}
