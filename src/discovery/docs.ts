import swagger, { type StaticDocumentSpec } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { parse } from 'yaml'

export interface DocsOptions {
  /** The committed top-level openapi.yaml, as text. */
  openapiYaml: string
}

/** The page and the document change only with a deployment, like the other discovery documents. */
const PAGE_CACHE = 'public, max-age=300'
/** The Swagger UI bundle changes only when the package does; after a day clients revalidate (ETag). */
const ASSET_CACHE = 'public, max-age=86400'
const ASSET_ROUTE = '/docs/static/'

/**
 * GET /docs: the interactive API reference (Swagger UI) rendered from the committed OpenAPI document.
 * Every asset is served from this process: the page works offline and loads nothing from third
 * parties, which the Content-Security-Policy enforces.
 */
export async function docsRoutes(app: FastifyInstance, options: DocsOptions): Promise<void> {
  const document = thisServerFirst(openapiDocument(options.openapiYaml))

  // Added before the UI registers so that its routes (and @fastify/static's) inherit the hook.
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode !== 200 && reply.statusCode !== 304) return
    const assets = request.routeOptions.url?.startsWith(ASSET_ROUTE) === true
    void reply.header('cache-control', assets ? ASSET_CACHE : PAGE_CACHE)
  })

  await app.register(swagger, { mode: 'static', specification: { document } })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: contentSecurityPolicy(document),
    theme: { title: 'Mecharim API reference' },
    uiConfig: {
      // No top bar: it carries only vendor branding (its SVG logo needs an inline <style>, which the
      // policy refuses) and an "explore" box that would fetch other documents.
      layout: 'BaseLayout',
      displayOperationId: true,
      // A credential typed into "Authorize" lives in page memory only, never in localStorage.
      persistAuthorization: false,
      withCredentials: false,
      requestInterceptor: addRuntimeHeaders,
    },
  })
}

/**
 * Runs in the page, not here: @fastify/swagger-ui writes its source into the page's initializer
 * script, so it must stay self-contained (no imports, no closure, no helper). A request that
 * carries a Mecha key gets the `Mecha ` scheme (the Authorize box takes the token alone) and a
 * current Mecha-Timestamp and a fresh random Mecha-Nonce (18 bytes, base64url), replacing the
 * parameter fields: a person cannot type a nonce that was never used, nor the time to the second.
 * It is sent with the token alone.
 */
export function addRuntimeHeaders(request: { [field: string]: unknown }): { [field: string]: unknown } {
  const headers = request.headers as Record<string, string> | undefined
  if (headers === undefined) return request
  const find = (wanted: string): string | undefined => Object.keys(headers).find((name) => name.toLowerCase() === wanted)
  const authorization = find('authorization')
  if (authorization === undefined) return request
  if (/^mecha_/.test(headers[authorization] ?? '')) headers[authorization] = `Mecha ${headers[authorization] ?? ''}`
  if (!/^(mecha|bearer) +mecha_/i.test(headers[authorization] ?? '')) return request
  // The page cannot sign: the example values Swagger UI prefills into these fields would be refused
  // (a signature over another timestamp and nonce, a digest of another body). Token only.
  for (const name of Object.keys(headers)) {
    if (['signature', 'signature-input', 'content-digest'].includes(name.toLowerCase())) delete headers[name]
  }
  const bytes = new Uint8Array(18)
  crypto.getRandomValues(bytes)
  headers[find('mecha-timestamp') ?? 'Mecha-Timestamp'] = String(Math.floor(Date.now() / 1000))
  headers[find('mecha-nonce') ?? 'Mecha-Nonce'] = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_')
  return request
}

/**
 * "Try it out" goes to the origin that served the page first (a relative server URL), then to the
 * servers the document lists: the committed document names the development listener, which is not
 * where a deployed page lives.
 */
function thisServerFirst(document: StaticDocumentSpec['document']): StaticDocumentSpec['document'] {
  const servers = (document as { servers?: unknown }).servers
  const listed = Array.isArray(servers) ? servers as unknown[] : []
  return { ...document, servers: [{ url: '/', description: 'This server (the origin of this page)' }, ...listed] } as StaticDocumentSpec['document']
}

/** The parsed OpenAPI document; anything else stops the process at start-up. */
function openapiDocument(yaml: string): StaticDocumentSpec['document'] {
  const parsed = parse(yaml) as unknown
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { openapi?: unknown }).openapi !== 'string') {
    throw new TypeError(`expected an OpenAPI document with an "openapi" version, got ${parsed === null ? 'null' : typeof parsed}`)
  }
  return parsed as StaticDocumentSpec['document']
}

/**
 * Only this origin may serve scripts, styles, fonts and images (plus data: images: the stylesheet's icons); no
 * inline script, no eval, no framing. "Try it out" may call this origin and the servers the document
 * lists, nothing else.
 */
function contentSecurityPolicy(document: StaticDocumentSpec['document']): Record<string, string[]> {
  return {
    'default-src': ["'none'"],
    'base-uri': ["'none'"],
    'connect-src': ["'self'", ...serverOrigins(document)],
    'font-src': ["'self'", 'data:'],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'img-src': ["'self'", 'data:'],
    'manifest-src': ["'self'"],
    'object-src': ["'none'"],
    'script-src': ["'self'"],
    'script-src-attr': ["'none'"],
    'style-src': ["'self'"],
  }
}

function serverOrigins(document: StaticDocumentSpec['document']): string[] {
  const servers = (document as { servers?: unknown }).servers
  if (!Array.isArray(servers)) return []
  const origins = new Set<string>()
  for (const server of servers as unknown[]) {
    const url = (server as { url?: unknown } | null)?.url
    // A templated URL ({host}) names no single origin: "try it out" against it stays refused.
    if (typeof url !== 'string' || !/^https?:\/\//.test(url) || url.includes('{')) continue
    origins.add(new URL(url).origin)
  }
  return [...origins]
}
