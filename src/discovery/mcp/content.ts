import type { Access } from '../../surfaces.js'
import { ORDER_NOTE, RUNTIME_CHECKS } from './checks.js'

/** One surface as the discovery document lists it. */
export interface DiscoverySurface {
  name: string
  access: Access
  scope?: string
  methods: string[]
  url: string
  description: string
}

/**
 * Everything the MCP server says, computed once when the plugin is registered: a stateless server is
 * built per request, so per-request work stays at wiring. Read-only by construction: plain data, no
 * store, no transport, no credential.
 */
export interface McpContent {
  name: string
  version: string
  publicUrl: string
  publicAuthority: string
  principle: string
  surfaces: readonly DiscoverySurface[]
  authentication: Record<string, unknown>
  discoveryJson: string
  openapiYaml: string
  protocolMarkdown: string
}

export interface McpContentSources {
  discovery: Record<string, unknown>
  openapiYaml: string
  protocolMarkdown: string
  publicAuthority: string
}

/** Check the pieces of the discovery document the tools read, so a mismatch fails at start-up. */
export function mcpContent(sources: McpContentSources): McpContent {
  const d = sources.discovery
  if (d === null || typeof d !== 'object') throw new TypeError(`expected the discovery document, got ${typeof d}`)
  const surfaces = d.surfaces
  if (!Array.isArray(surfaces) || !surfaces.every(isSurface)) throw new TypeError('expected discovery.surfaces as a list of {name, access, methods, url, description}')
  const authentication = d.authentication
  if (authentication === null || typeof authentication !== 'object' || !('runtime' in authentication)) {
    throw new TypeError('expected discovery.authentication with a runtime member')
  }
  for (const key of ['version', 'public_url', 'principle'] as const) {
    if (typeof d[key] !== 'string') throw new TypeError(`expected discovery.${key} as a string, got ${typeof d[key]}`)
  }
  if (typeof sources.openapiYaml !== 'string' || sources.openapiYaml === '') throw new TypeError('expected the OpenAPI document as YAML text')
  if (typeof sources.protocolMarkdown !== 'string' || sources.protocolMarkdown === '') throw new TypeError('expected docs/protocol.md as text')
  return {
    name: 'mecharim',
    version: d.version as string,
    publicUrl: d.public_url as string,
    publicAuthority: sources.publicAuthority,
    principle: d.principle as string,
    surfaces,
    authentication: authentication as Record<string, unknown>,
    discoveryJson: JSON.stringify(d, null, 2),
    openapiYaml: sources.openapiYaml,
    protocolMarkdown: sources.protocolMarkdown,
  }
}

function isSurface(value: unknown): value is DiscoverySurface {
  if (value === null || typeof value !== 'object') return false
  const s = value as Record<string, unknown>
  return typeof s.name === 'string' && typeof s.url === 'string' && typeof s.description === 'string'
    && (s.access === 'open' || s.access === 'operator' || s.access === 'runtime')
    && Array.isArray(s.methods) && s.methods.every((m) => typeof m === 'string')
}

/** The runtime authentication model: the discovery document's description plus the order of checks. */
export function authenticationModel(content: McpContent): Record<string, unknown> {
  return {
    principle: content.principle,
    discovery_url: `${content.publicUrl}/.well-known/mecharim`,
    protocol: 'mecharim://docs/protocol.md',
    ...content.authentication,
    getting_a_key: 'An operator issues Mecha keys on the control plane (`mecharim keys issue <mecha>`, or POST /v1/mechas/{id}/keys): the token and signing secret are shown once, in that answer.',
    signing_for_you: 'Nobody needs to sign by hand: the SDK (mecharim/client) and the CLI (mecharim send, listen, whoami) add the timestamp, nonce, Content-Digest and signature for you.',
    order_of_checks: RUNTIME_CHECKS.map((c) => ({ ...c, refusals: [...c.refusals] })),
    order_note: ORDER_NOTE,
  }
}
