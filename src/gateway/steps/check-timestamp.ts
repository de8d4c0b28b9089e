import { Problem } from '../../errors/problem.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/**
 * Mecha-Timestamp within +/- the window of server time. The refusal carries the server time
 * (body `server_time`, header `Mecha-Server-Time`) so a client can correct its clock and retry.
 */
export function checkTimestamp(ctx: GatewayContext, deps: { windowSeconds: number }): StepResult {
  const timestamp = required(ctx.timestamp, 'timestamp')
  const serverTime = Math.floor(ctx.now / 1000)
  if (Math.abs(serverTime - timestamp) <= deps.windowSeconds) return undefined
  return staleTimestamp(serverTime, `Mecha-Timestamp is ${timestamp - serverTime} s from server time; the window is +/-${deps.windowSeconds} s`)
}

export function staleTimestamp(serverTime: number, detail: string): Problem {
  return new Problem('stale_timestamp', detail, {
    extensions: { server_time: serverTime },
    headers: { 'mecha-server-time': String(serverTime) },
  })
}
