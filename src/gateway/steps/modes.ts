import type { ModeInput, ModeRegistry } from '../../control-plane/modes.js'
import { Problem } from '../../errors/problem.js'
import { sessionPermissions } from '../../permissions/sessions.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/** What PUT /v1/runtime/modes/{name} writes through: the registry the control plane uses too. */
export interface ModeDeps {
  modes: ModeRegistry
}

function modeName(ctx: GatewayContext): string {
  const name = ctx.request.params?.name
  if (typeof name !== 'string') throw new Error('mode route reached without a name parameter')
  return name
}

/** The key may change the mode registry: `permissions.sessions.can_manage_modes`. */
export function checkModePermission(ctx: GatewayContext): StepResult {
  const key = required(ctx.key, 'key')
  if (!sessionPermissions(key.permissions).can_manage_modes) {
    return new Problem('cannot_manage_modes', 'this key may not change session modes (permissions.sessions.can_manage_modes is false)')
  }
  return undefined
}

/** PUT /v1/runtime/modes/{name}: create or replace the mode, audited with the key as the actor. */
export async function putMode(ctx: GatewayContext, deps: ModeDeps): Promise<StepResult> {
  const key = required(ctx.key, 'key')
  const name = modeName(ctx)
  try {
    const put = await deps.modes.put({ kind: 'key', keyId: key.id, mecha: key.mecha, requestId: ctx.request.requestId ?? 'unknown' }, name, ctx.request.json as ModeInput)
    ctx.response = {
      status: put.outcome === 'created' ? 201 : 200,
      body: { mode: put.mode },
      ...(put.outcome === 'created' ? { headers: { location: `/v1/modes/${name}` } } : {}),
    }
    return undefined
  } catch (err) {
    if (err instanceof Problem) return err
    throw err
  }
}
