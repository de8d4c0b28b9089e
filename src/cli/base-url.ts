import { SURFACES } from '../surfaces.js'
import { UsageError } from './args.js'

export const DEFAULT_URL = 'http://127.0.0.1:8080'

/** The first path segments of the server's own routes (v1, docs, mcp, .well-known, ...). */
const ROUTE_SEGMENTS: ReadonlySet<string> = new Set(SURFACES.map((s) => s.url.split('/')[1] ?? ''))

/**
 * The server URL from --url or MECHA_URL (default http://127.0.0.1:8080). A URL that goes on into
 * one of the server's routes (`.../v1`, `.../v1/messages`, `.../docs`) is the commonest mistake and
 * would answer 404 for every command: it is refused, naming the URL to use. With `mountPoint`
 * (operator commands), another path is kept as a reverse proxy's mount point; runtime commands sign
 * the request path, so they take an origin only.
 */
export function serverUrl(flag: string | undefined, env: { MECHA_URL?: string }, options: { mountPoint: boolean }): string {
  const url = flag ?? (env.MECHA_URL === '' ? undefined : env.MECHA_URL) ?? DEFAULT_URL
  if (!URL.canParse(url)) throw new UsageError(`--url / MECHA_URL is not a URL: ${JSON.stringify(url)}`)
  const parsed = new URL(url)
  const segments = parsed.pathname.split('/').filter((s) => s !== '')
  const route = segments.findIndex((s) => ROUTE_SEGMENTS.has(s))
  if (segments.length > 0 && (route !== -1 || !options.mountPoint) && (parsed.protocol === 'http:' || parsed.protocol === 'https:')) {
    const mount = options.mountPoint ? segments.slice(0, route).map((s) => `/${s}`).join('') : ''
    throw new UsageError(`--url / MECHA_URL is the server's base URL, without a path: got ${url}; use ${parsed.origin}${mount}`)
  }
  return url
}
