import type { Latency } from './load.js'
import type { CeilingRow, ServerKind } from './results.js'

/** Names and number formats of the generated report. */

export const SERVER_NAMES: Record<ServerKind, string> = {
  bare: 'bare Fastify',
  prototype: 'prototype (digest + one Lua script)',
  redis: 'gateway, Redis',
  embedded: 'gateway, embedded',
  'redis-metrics-off': 'gateway, Redis, metrics off',
  'redis-x2': 'two gateways, one Redis',
  'redis-spread': 'one Redis',
  'redis-cluster': 'Redis Cluster',
}

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

export function fixed(n: number | undefined, digits: number): string {
  return n === undefined ? '-' : n.toFixed(digits)
}

export function ms(latency: Latency | undefined, key: keyof Latency): string {
  return latency === undefined ? '-' : latency[key].toFixed(2)
}

/** The non-2xx statuses, connection errors and timeouts of a run, or `-`. */
export function others(row: Pick<CeilingRow, 'load'>): string {
  const parts = Object.entries(row.load.statuses).filter(([code]) => !code.startsWith('2')).map(([code, n]) => `${code}: ${n}`)
  if (row.load.errors > 0) parts.push(`errors: ${row.load.errors}`)
  if (row.load.timeouts > 0) parts.push(`timeouts: ${row.load.timeouts}`)
  return parts.length === 0 ? '-' : parts.join(', ')
}
