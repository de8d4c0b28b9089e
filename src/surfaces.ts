import type { OperatorScope, Role } from './config/schema.js'

/**
 * The one declared list of every route and who may call it. "Let discovery explain, let runtime
 * authenticate":
 * - open: descriptive surfaces, no credentials, never grant action;
 * - operator: the control plane, an operator bearer token with `scope`;
 * - runtime: the gateway, a Mecha key.
 *
 * `app.ts` assigns each route its access from this list as the route is registered and refuses to
 * start on a route the list does not classify. The well-known document publishes the list, and
 * test/http/boundary.test.ts checks every registered route against it, by behaviour.
 */
export type Access = 'open' | 'operator' | 'runtime'

export interface Surface {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD'
  /** The Fastify route path; with `prefix`, every route under it. */
  url: string
  prefix?: boolean
  access: Access
  scope?: OperatorScope
  /**
   * A load balancer's health probe: never counted by the open surfaces' rate limit. Probes arrive
   * often from a few addresses (and, behind a proxy that is not trusted, from the address every
   * client shares), and a probe refused with 429 takes a healthy instance out of service.
   */
  probe?: true
  /** A short name for the discovery document. */
  name: string
  description: string
}

const op = (method: Surface['method'], url: string, scope: OperatorScope, name: string, description: string): Surface => ({ method, url, access: 'operator', scope, name, description })
const rt = (method: Surface['method'], url: string, name: string, description: string): Surface => ({ method, url, access: 'runtime', name, description })
const open = (method: Surface['method'], url: string, name: string, description: string, prefix = false): Surface => ({ method, url, access: 'open', name, description, ...(prefix ? { prefix } : {}) })

export const SURFACES: readonly Surface[] = [
  // discovery: open, descriptive
  open('GET', '/.well-known/mecharim', 'discovery', 'This document: surfaces, authentication, signature profile, errors, limits.'),
  open('GET', '/openapi.yaml', 'openapi', 'The whole API as OpenAPI 3.1 (YAML).'),
  open('GET', '/openapi.json', 'openapi-json', 'The whole API as OpenAPI 3.1 (JSON).'),
  open('GET', '/v1/schemas', 'schemas', 'Names and URLs of the JSON Schemas (2020-12) the routes validate with.'),
  open('GET', '/v1/schemas/:name', 'schema', 'One JSON Schema.'),
  open('GET', '/v1/directory/mechas', 'directory', 'Public cards of the mechas an operator listed.'),
  open('GET', '/v1/directory/mechas/:id', 'directory-card', 'One listed mecha\'s card: accepted kinds and Ed25519 public keys.'),
  open('GET', '/v1/modes', 'modes', 'The session modes: named protocols and the message kinds they use (descriptive: grants nothing).'),
  open('GET', '/v1/modes/:name', 'mode', 'One session mode.'),
  open('GET', '/docs', 'docs', 'Interactive API reference rendered from the OpenAPI document.', true),
  open('GET', '/mcp', 'mcp', 'Model Context Protocol server (Streamable HTTP), read-only: explains, never acts.'),
  open('POST', '/mcp', 'mcp', 'Model Context Protocol server (Streamable HTTP), read-only: explains, never acts.'),
  open('DELETE', '/mcp', 'mcp', 'Model Context Protocol server (Streamable HTTP), read-only: explains, never acts.'),
  { ...open('GET', '/healthz', 'healthz', 'Liveness.'), probe: true },
  { ...open('GET', '/readyz', 'readyz', 'Readiness: stores and transport reachable (503 otherwise).'), probe: true },
  open('GET', '/metrics', 'metrics', 'Prometheus metrics (may be disabled or moved to another port).'),
  // control plane: operator token
  op('POST', '/v1/mechas', 'keys:write', 'mechas', 'Register a mecha.'),
  op('GET', '/v1/mechas', 'keys:read', 'mechas', 'List mechas.'),
  op('GET', '/v1/mechas/:id', 'keys:read', 'mecha', 'Read a mecha.'),
  op('PATCH', '/v1/mechas/:id', 'keys:write', 'mecha', 'Update a mecha.'),
  op('DELETE', '/v1/mechas/:id', 'keys:write', 'mecha', 'Deactivate a mecha (its keys stop working).'),
  op('POST', '/v1/mechas/:id/keys', 'keys:write', 'keys', 'Issue a Mecha key (secrets shown once).'),
  op('GET', '/v1/mechas/:id/keys', 'keys:read', 'keys', 'List a mecha\'s keys.'),
  op('GET', '/v1/mechas/:id/dead-letters', 'keys:read', 'mecha-dead-letters', 'A mecha\'s dead letters.'),
  op('POST', '/v1/mechas/:id/dead-letters/redrive', 'keys:write', 'mecha-dead-letters-redrive', 'Move a mecha\'s dead letters back to its inbox (audited).'),
  op('GET', '/v1/keys/:keyId', 'keys:read', 'key', 'Read a key\'s metadata and status.'),
  op('PATCH', '/v1/keys/:keyId', 'keys:write', 'key', 'Change a key\'s label, expiry, permissions, signature policy.'),
  op('POST', '/v1/keys/:keyId/revoke', 'keys:write', 'key-revoke', 'Revoke a key.'),
  op('POST', '/v1/keys/:keyId/rotate', 'keys:write', 'key-rotate', 'Rotate a key\'s secrets with a grace period.'),
  op('PUT', '/v1/modes/:name', 'keys:write', 'mode', 'Create or replace a session mode.'),
  op('DELETE', '/v1/modes/:name', 'keys:write', 'mode', 'Delete a session mode.'),
  op('GET', '/v1/audit', 'audit:read', 'audit', 'The audit trail.'),
  // runtime gateway: Mecha key
  rt('POST', '/v1/messages', 'messages', 'Send a message to a mecha.'),
  rt('GET', '/v1/inbox', 'inbox', 'Long-poll the authenticated mecha\'s messages.'),
  rt('POST', '/v1/inbox/ack', 'inbox-ack', 'Acknowledge delivered messages.'),
  rt('GET', '/v1/whoami', 'whoami', 'The authenticated mecha, key and server time.'),
  rt('PUT', '/v1/runtime/modes/:name', 'runtime-mode', 'Create or replace a session mode (a key with permissions.sessions.can_manage_modes).'),
  rt('POST', '/v1/sessions', 'sessions', 'Start a session in a mode with participant mechas (they are told).'),
  rt('GET', '/v1/sessions', 'sessions', 'The sessions the authenticated mecha takes part in.'),
  rt('GET', '/v1/sessions/:id', 'session', 'One session (its participants only).'),
  rt('POST', '/v1/sessions/:id/commit', 'session-commit', 'Commit a session with its outcome (the initiator only).'),
  rt('POST', '/v1/sessions/:id/cancel', 'session-cancel', 'Cancel a session (the initiator only).'),
  rt('GET', '/v1/connect', 'connect', 'WebSocket: messages pushed as they arrive, acks over the socket.'),
  rt('POST', '/v1/inbox/nack', 'inbox-nack', 'Deliver delivered messages again after a delay.'),
  rt('POST', '/v1/inbox/extend', 'inbox-extend', 'Keep delivered messages invisible longer.'),
  rt('POST', '/v1/inbox/reject', 'inbox-reject', 'Dead-letter delivered messages now.'),
  rt('GET', '/v1/inbox/dead', 'inbox-dead', 'The authenticated mecha\'s dead letters.'),
  rt('POST', '/v1/inbox/dead/redrive', 'inbox-dead-redrive', 'Move dead letters back to the inbox.'),
  rt('POST', '/v1/inbox/dead/purge', 'inbox-dead-purge', 'Remove dead letters.'),
]

/** The surface a route belongs to, or undefined when the list does not classify it. */
export function surfaceOf(method: string, url: string): Surface | undefined {
  // An implicit HEAD route shares its GET's classification.
  const m = method === 'HEAD' ? 'GET' : method
  return SURFACES.find((s) => s.method === m && (s.url === url || (s.prefix === true && (url === s.url || url.startsWith(`${s.url}/`)))))
}

/**
 * Which access classes each process role serves (MECHA_ROLE). The internet-facing gateway fleet
 * serves no operator route, so it holds no operator credential; the control plane serves no runtime
 * route. Both keep the open, descriptive surfaces (discovery, health, metrics).
 */
export const ROLE_ACCESS: Readonly<Record<Role, readonly Access[]>> = {
  all: ['open', 'operator', 'runtime'],
  gateway: ['open', 'runtime'],
  control: ['open', 'operator'],
}

export function roleServes(role: Role, access: Access): boolean {
  return ROLE_ACCESS[role].includes(access)
}

/** The surfaces one role serves, in the declared order (the discovery document lists these). */
export function surfacesOf(role: Role): readonly Surface[] {
  return SURFACES.filter((s) => roleServes(role, s.access))
}
