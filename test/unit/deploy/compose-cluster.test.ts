import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ConfigError, loadConfig, type Env } from '../../../src/config/load.js'
import { ROLES, VARIABLES, type Role } from '../../../src/config/schema.js'
import { ROLE_ACCESS, SURFACES } from '../../../src/surfaces.js'

// No Docker engine runs here: deploy/compose.cluster.yaml and deploy/nginx.conf are checked by parsing
// them, against the service's own tables (VARIABLES, loadConfig, SURFACES, ROLE_ACCESS).
const DEPLOY = new URL('../../../deploy/', import.meta.url)
const COMPOSE_TEXT = readFileSync(new URL('compose.cluster.yaml', DEPLOY), 'utf8')
const NGINX_TEXT = readFileSync(new URL('nginx.conf', DEPLOY), 'utf8')

interface Service {
  image?: string
  build?: { context?: string; dockerfile?: string } | string
  command?: string[] | string
  environment?: Record<string, string>
  depends_on?: string[] | Record<string, { condition?: string }>
  secrets?: string[]
  volumes?: string[]
  ports?: string[]
  networks?: string[] | Record<string, { ipv4_address?: string } | null>
}
interface Compose {
  services: Record<string, Service>
  secrets?: Record<string, { file?: string }>
  volumes?: Record<string, unknown>
}

// Compose resolves YAML merge keys (`<<: *anchor`); so must the test.
const compose = parse(COMPOSE_TEXT, { merge: true }) as Compose
const services = Object.entries(compose.services)
const service = (name: string): Service => {
  const found = compose.services[name]
  if (found === undefined) throw new Error(`expected a service named ${name} in deploy/compose.cluster.yaml`)
  return found
}

/** The services built from the repository's Dockerfile: the Mecharim processes. */
const mecharim = services.filter(([, s]) => typeof s.build === 'object' && s.build.context === '..' && s.build.dockerfile === 'Dockerfile')
const withRole = (role: Role): Array<[string, Service]> => mecharim.filter(([, s]) => s.environment?.MECHA_ROLE === role)
const redisNodes = services.filter(([, s]) => argsOf(s).includes('--cluster-enabled'))

/** Values for the `${NAME:?message}` the file requires from whoever runs it. */
const REQUIRED_BY_COMPOSE: Readonly<Record<string, string>> = { MECHA_MASTER_KEY: 'ab'.repeat(32) }
const OPERATOR_TOKENS = JSON.stringify({ ['t'.repeat(40)]: 'alice' })
describe('deploy/compose.cluster.yaml', () => {
  it('depends only on services it defines, with conditions compose knows', () => {
    for (const [name, s] of services) {
      const deps: Record<string, { condition?: string }> = Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, {}])) : (s.depends_on ?? {})
      for (const [dep, { condition }] of Object.entries(deps)) {
        expect(compose.services, `${name} depends on ${dep}`).toHaveProperty([dep])
        if (condition !== undefined) expect(['service_started', 'service_healthy', 'service_completed_successfully'], `${name} -> ${dep}`).toContain(condition)
      }
    }
  })

  it('runs two gateways (MECHA_ROLE=gateway) holding no operator credential, and one control plane', () => {
    expect(withRole('gateway').map(([name]) => name)).toEqual(['gateway-1', 'gateway-2'])
    for (const [name, s] of withRole('gateway')) {
      expect(Object.keys(s.environment ?? {}).filter((v) => v.startsWith('MECHA_OPERATOR_')), name).toEqual([])
      expect(s.secrets ?? [], name).toEqual([])
    }
    expect(withRole('control').map(([name]) => name)).toEqual(['control'])
    // Every Mecharim process has one of the two roles: none serves everything.
    expect(mecharim.map(([, s]) => s.environment?.MECHA_ROLE).every((r) => r === 'gateway' || r === 'control')).toBe(true)
  })

  it('gives the control plane its operator tokens as a secret file, and only the control plane', () => {
    const control = service('control')
    expect(control.secrets).toHaveLength(1)
    const secret = control.secrets?.[0] as string
    expect(control.environment?.MECHA_OPERATOR_TOKENS_FILE).toBe(`/run/secrets/${secret}`)
    expect(compose.secrets?.[secret]?.file).toMatch(/^\.\/secrets\//)
    for (const [name, s] of services) if (name !== 'control') expect(s.secrets ?? [], name).not.toContain(secret)
  })

  it('starts every Mecharim service in production: loadConfig accepts each environment', () => {
    expect(mecharim).toHaveLength(3)
    for (const [name, s] of mecharim) {
      const env = interpolate(s.environment ?? {})
      expect(env.NODE_ENV, name).toBe('production')
      const readFile = (path: string): string => {
        if (path !== env.MECHA_OPERATOR_TOKENS_FILE) throw Object.assign(new Error('not mounted'), { code: 'ENOENT' })
        return OPERATOR_TOKENS
      }
      try {
        const config = loadConfig(env, { readFile })
        expect(config.production).toBe(true)
        expect(config.role, name).toBe(env.MECHA_ROLE)
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        expect(err.problems.join('\n'), name).toBe('')
      }
    }
  })

  it('sets only variables the service reads', () => {
    const known = new Set<string>(VARIABLES.map((v) => v.name))
    for (const [name, s] of mecharim) {
      for (const variable of Object.keys(s.environment ?? {})) expect(known, `${name}: ${variable}`).toContain(variable)
    }
  })

  it('points REDIS_URL at every Redis Cluster node, by service name and port, once the cluster is formed', () => {
    const urls = new Set(mecharim.map(([, s]) => s.environment?.REDIS_URL))
    expect(urls.size).toBe(1)
    const seeds = clusterSeeds([...urls][0] as string)
    expect(seeds.map((seed) => seed.host).sort()).toEqual(redisNodes.map(([name]) => name).sort())
    for (const seed of seeds) expect(flag(service(seed.host), '--port') ?? '6379', seed.host).toBe(String(seed.port))
    expect(redisNodes).toHaveLength(3)

    const init = service('redis-cluster-init')
    const script = [...(Array.isArray(init.command) ? init.command : [init.command ?? ''])].join('\n')
    expect(script).toContain('--cluster create')
    for (const [name] of redisNodes) {
      expect(script, name).toContain(`ip ${name})`)
      expect((init.depends_on as Record<string, { condition?: string }>)[name]?.condition, name).toBe('service_healthy')
    }
    for (const [name, s] of mecharim) {
      expect((s.depends_on as Record<string, { condition?: string }>)['redis-cluster-init']?.condition, name).toBe('service_completed_successfully')
    }
  })

  it('runs each Redis node with AOF fsynced every second, no eviction and its own volume', () => {
    const volumes = new Set<string>()
    for (const [name, s] of redisNodes) {
      expect(s.image, name).toMatch(/^redis:7/)
      expect(flag(s, '--cluster-enabled'), name).toBe('yes')
      expect(flag(s, '--appendonly'), name).toBe('yes')
      expect(flag(s, '--appendfsync'), name).toBe('everysec')
      // an evicted nonce would reopen a replay window
      expect(flag(s, '--maxmemory-policy'), name).toBe('noeviction')
      const volume = s.volumes?.[0]?.split(':')[0] as string
      expect(compose.volumes, name).toHaveProperty([volume])
      volumes.add(volume)
    }
    expect(volumes.size).toBe(redisNodes.length)
  })

  it('trusts X-Forwarded-For from the load balancer\'s address only', () => {
    const lb = service('lb')
    const address = (lb.networks as Record<string, { ipv4_address?: string }>).front?.ipv4_address
    expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    for (const [name, s] of mecharim) expect(s.environment?.MECHA_TRUST_PROXY, name).toBe(address)
  })
})

describe('deploy/nginx.conf', () => {
  const nginx = parseNginx(NGINX_TEXT)

  it('is the configuration the lb service mounts, on the port it publishes', () => {
    const lb = service('lb')
    expect(lb.volumes).toContain('./nginx.conf:/etc/nginx/conf.d/default.conf:ro')
    expect(lb.ports?.map((p) => p.split(':').at(-1))).toEqual([String(nginx.listen)])
  })

  it('has upstreams made of Mecharim services, on the port each listens on', () => {
    for (const [upstream, servers] of Object.entries(nginx.upstreams)) {
      for (const server of servers) {
        const [host, port] = server.split(':')
        expect(mecharim.map(([name]) => name), `${upstream}: ${server}`).toContain(host)
        expect(interpolate(service(host as string).environment ?? {}).PORT, server).toBe(port)
      }
    }
  })

  it('sends every route of src/surfaces.ts to an upstream whose MECHA_ROLE serves it; operator routes to the control plane', () => {
    for (const surface of SURFACES) {
      const paths = [surface.url.replace(/:\w+/g, 'x'), ...(surface.prefix === true ? [`${surface.url}/x`] : [])]
      for (const path of paths) {
        const upstream = nginx.route(path)
        const roles = (nginx.upstreams[upstream] ?? []).map((server) => service(server.split(':')[0] as string).environment?.MECHA_ROLE as Role)
        expect(roles.length, `${surface.method} ${path} -> ${upstream}`).toBeGreaterThan(0)
        for (const role of roles) {
          expect(ROLES, role).toContain(role)
          expect(ROLE_ACCESS[role], `${surface.method} ${path} (${surface.access}) -> ${upstream} (${role})`).toContain(surface.access)
        }
        if (surface.access === 'operator') expect(upstream, path).toBe('control')
        if (surface.access === 'runtime') expect(upstream, path).toBe('gateway')
      }
    }
  })

  it('does not send a path that only starts like an operator route to the control plane', () => {
    expect(nginx.route('/v1/mechasx')).toBe('gateway')
    expect(nginx.route('/v1/directory/mechas')).toBe('gateway')
  })
})

function argsOf(s: Service): string[] {
  return Array.isArray(s.command) ? s.command : []
}

/** The value after `name` in a service's command, as redis-server reads `--name value`. */
function flag(s: Service, name: string): string | undefined {
  const args = argsOf(s)
  const at = args.indexOf(name)
  return at === -1 ? undefined : args[at + 1]
}

/** `redis+cluster://host:port,host:port/` -> its seeds. */
function clusterSeeds(url: string): Array<{ host: string; port: number }> {
  const match = /^redis\+cluster:\/\/([^/]+)\/$/.exec(url)
  if (match === null) throw new Error(`expected redis+cluster://host:port,...,host:port/, got ${url}`)
  return (match[1] as string).split(',').map((seed) => {
    const [host, port] = seed.split(':')
    return { host: host as string, port: Number(port) }
  })
}

/** Compose's interpolation of one service's environment: `${NAME:-default}`, `${NAME:?message}`, `$$`. */
function interpolate(environment: Record<string, string>): Env {
  const resolve = (value: string): string => value.replace(/\$\$|\$\{(\w+)(?::([-?])([^}]*))?\}/g, (whole, name?: string, kind?: string, rest?: string) => {
    if (whole === '$$') return '$'
    const given = REQUIRED_BY_COMPOSE[name as string]
    if (given !== undefined) return given
    if (kind === '-') return rest ?? ''
    throw new Error(`the compose file requires ${name} from its environment: add a test value to REQUIRED_BY_COMPOSE`)
  })
  return Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, resolve(String(value))]))
}

interface NginxConfig {
  listen: number
  upstreams: Record<string, string[]>
  /** The upstream a request path is proxied to, by nginx's location choice: exact match, else longest prefix. */
  route(path: string): string
}

/** Enough of nginx's syntax for deploy/nginx.conf; a regular-expression location is refused (route() could not be exact). */
function parseNginx(text: string): NginxConfig {
  const source = text.replace(/#[^\n]*/g, '')
  const upstreams: Record<string, string[]> = {}
  for (const [, name, body] of source.matchAll(/upstream\s+(\S+)\s*\{([^}]*)\}/g)) {
    upstreams[name as string] = [...(body as string).matchAll(/server\s+([^\s;]+)/g)].map((m) => m[1] as string)
  }
  const locations = [...source.matchAll(/location\s+(?:(\S+)\s+)?(\/\S*)\s*\{([^}]*)\}/g)].map(([, modifier, path, body]) => {
    if (modifier !== undefined && modifier !== '=' && modifier !== '^~') throw new Error(`regular-expression location ${modifier} ${path}: the test cannot resolve it`)
    const upstream = /proxy_pass\s+http:\/\/([^\s;/]+)/.exec(body as string)?.[1]
    if (upstream === undefined) throw new Error(`location ${path} proxies nowhere`)
    return { exact: modifier === '=', path: path as string, upstream }
  })
  const listen = Number(/listen\s+(\d+)/.exec(source)?.[1])
  return {
    listen,
    upstreams,
    route(path) {
      const exact = locations.find((l) => l.exact && l.path === path)
      if (exact !== undefined) return exact.upstream
      const prefixes = locations.filter((l) => !l.exact && path.startsWith(l.path)).sort((a, b) => b.path.length - a.path.length)
      if (prefixes[0] === undefined) throw new Error(`no location matches ${path}`)
      return prefixes[0].upstream
    },
  }
}
