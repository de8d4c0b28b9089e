import { Problem } from '../../errors/problem.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/**
 * Mecha-Timestamp at most the window in the past and at most the (smaller) future skew ahead of
 * server time: a request dated ahead stays valid only that long, which bounds what a replay-cache
 * loss can reopen (the cache refuses `timestamp < epoch + skew` with the same value). The refusal
 * carries the server time (body `server_time`, header `Mecha-Server-Time`) so a client can correct
 * its clock and retry.
 */
export function checkTimestamp(ctx: GatewayContext, deps: { windowSeconds: number; maxFutureSkewSeconds: number }): StepResult {
  const timestamp = required(ctx.timestamp, 'timestamp')
  const serverTime = Math.floor(ctx.now / 1000)
  const offset = timestamp - serverTime
  if (offset <= deps.maxFutureSkewSeconds && -offset <= deps.windowSeconds) return undefined
  return staleTimestamp(serverTime, `Mecha-Timestamp is ${offset} s from server time; accepted: ${deps.windowSeconds} s in the past to ${deps.maxFutureSkewSeconds} s ahead${looksLikeMilliseconds(timestamp, serverTime) ? '. It looks like milliseconds; send seconds (e.g. Math.floor(Date.now() / 1000))' : ''}`)
}

/** Date.now() sent as is: within a day of server time once divided by 1000. */
function looksLikeMilliseconds(timestamp: number, serverTime: number): boolean {
  return Math.abs(Math.floor(timestamp / 1000) - serverTime) <= 86_400
}

export function staleTimestamp(serverTime: number, detail: string): Problem {
  return new Problem('stale_timestamp', detail, {
    extensions: { server_time: serverTime },
    headers: { 'mecha-server-time': String(serverTime) },
  })
}
