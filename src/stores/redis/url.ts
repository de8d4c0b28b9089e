/** REDIS_URL and MECHA_CONTROL_REDIS_URL, parsed without a client (config/load.ts checks them at start). */

/** A parsed REDIS_URL / MECHA_CONTROL_REDIS_URL. */
export type RedisTarget =
  | { layout: 'standalone'; url: string }
  | { layout: 'cluster'; seeds: { host: string; port: number }[]; tls: boolean; username?: string; password?: string }

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/

/**
 * `redis://` and `rediss://` name one server; `redis+cluster://host1:port1,host2:port2/` (and
 * `rediss+cluster://`, TLS) name seed nodes of a Redis Cluster, with optional `user:password@` before
 * them. A host may be an IPv6 literal in brackets. The port defaults to 6379. Throws a TypeError that
 * names the problem (never the password).
 */
export function parseRedisUrl(url: string): RedisTarget {
  if (typeof url !== 'string') throw new TypeError(`expected a Redis URL string, got ${typeof url}`)
  if (/^rediss?:\/\//.test(url)) return { layout: 'standalone', url }
  const match = CLUSTER_URL.exec(url)
  if (match === null) {
    throw new TypeError('expected a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL (a cluster URL lists seed nodes as host:port,host:port and no database)')
  }
  const [, scheme, userinfo, hosts] = match as unknown as [string, string, string | undefined, string]
  const seeds = hosts.split(',').map((hostPort) => {
    const seed = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(hostPort)
    const port = seed?.[2] === undefined ? 6379 : Number(seed[2])
    if (seed === null || port < 1 || port > 65535) throw new TypeError(`a Redis Cluster seed must be host or host:port, got ${JSON.stringify(hostPort)}`)
    const host = (seed[1] as string).replace(/^\[(.*)\]$/, '$1')
    return { host, port }
  })
  const target: RedisTarget = { layout: 'cluster', seeds, tls: scheme === 'rediss' }
  if (userinfo !== undefined && userinfo !== '') {
    const colon = userinfo.indexOf(':')
    const username = decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon))
    const password = colon === -1 ? undefined : decodeURIComponent(userinfo.slice(colon + 1))
    if (password === undefined) target.password = username
    else {
      if (username !== '') target.username = username
      target.password = password
    }
  }
  return target
}
