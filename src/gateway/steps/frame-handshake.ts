import { Problem } from '../../errors/problem.js'
import { FRAME_AUTH_PROTOCOL } from '../../frame-auth.js'
import type { AuthFailureGuard } from '../../ratelimit/auth-failures.js'
import type { GatewayContext, StepResult } from '../context.js'
import { admitAuthAttempt } from './auth-failure-throttle.js'

const CREDENTIAL_HEADERS = ['authorization', 'signature', 'signature-input']

/** Whether a Sec-WebSocket-Protocol value (a comma-separated list of tokens) offers first-frame authentication. */
export function offersFrameAuth(value: string | undefined): boolean {
  return value !== undefined && value.split(',').some((protocol) => protocol.trim() === FRAME_AUTH_PROTOCOL)
}

/**
 * GET /v1/connect upgrades that offer the {@link FRAME_AUTH_PROTOCOL} subprotocol carry no credentials:
 * a browser cannot send them on an upgrade. Such an upgrade is admitted as an unauthenticated attempt
 * against its address's failed-authentication budget, like any request before its credential
 * verified, and it holds that place until its authenticate frame arrives or the socket ends; so the
 * sockets one address holds open without authenticating are bounded by MECHA_AUTH_FAILURE_LIMIT. The
 * steps after this one then do not run on the upgrade: they run, from the start of the table, on the
 * authenticate frame (frame-handshake.ts in the gateway). Credentials sent in headers beside the
 * subprotocol are refused: a socket authenticates one way.
 */
export function deferToFrame(ctx: GatewayContext, deps: { authFailures: AuthFailureGuard }): StepResult {
  const { request } = ctx
  if (!request.upgrade || !offersFrameAuth(request.header('sec-websocket-protocol'))) return undefined
  if (ctx.devSender !== undefined || CREDENTIAL_HEADERS.some((name) => request.header(name) !== undefined)) {
    return new Problem('malformed_credentials', `an upgrade offering the ${FRAME_AUTH_PROTOCOL} subprotocol sends its credentials in the authenticate frame, not in headers; send headers without the subprotocol`)
  }
  const refused = admitAuthAttempt(ctx, deps)
  if (refused !== undefined) return refused
  ctx.frameHandshake = true
  return undefined
}
