import { CATALOGUE } from '../errors/catalogue.js'
import type { Config } from '../config/schema.js'
import { MECHA_BODY_COMPONENTS, MECHA_CHALLENGE_COMPONENT, MECHA_COMPONENTS, MECHA_IDEMPOTENCY_COMPONENT, MECHA_TAG } from '../crypto/signature-base.js'
import { AUTHENTICATE_FIELDS, FRAME_AUTH_PROTOCOL } from '../frame-auth.js'
import { MAX_CLIENT_FRAME_BYTES } from '../gateway/websocket.js'
import { ORDER_NOTE, RUNTIME_CHECKS } from './mcp/checks.js'
import { schemaNames } from '../schemas/registry.js'
import { surfacesOf } from '../surfaces.js'
import type { DurabilityReport } from '../stores/durability.js'

export const PRINCIPLE = 'Let discovery explain, let runtime authenticate: descriptive surfaces are open and never grant action; every runtime action needs a Mecha key.'

/** Path parameters in Fastify form (`:id`) become URI-template form (`{id}`) for clients. */
function template(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, '{$1}')
}

/**
 * The discovery document: everything a client needs to configure itself, built once from the same
 * declarations the server enforces (surfaces, catalogue, signature profile, configuration).
 */
export function discoveryDocument(config: Config, version: string, durability: DurabilityReport): Record<string, unknown> {
  const base = config.publicUrl
  return {
    service: 'mecharim',
    version,
    public_url: base,
    principle: PRINCIPLE,
    role: config.role,
    surfaces: surfacesOf(config.role).map((s) => ({
      name: s.name,
      access: s.access,
      ...(s.scope !== undefined ? { scope: s.scope } : {}),
      methods: [s.method],
      // A prefix surface (the docs page, its assets below it) is listed by the URL a client opens.
      url: `${base}${template(s.url)}`,
      description: s.description,
    })),
    authentication: {
      open: 'No credentials. Descriptive only.',
      operator: {
        header: 'Authorization',
        scheme: 'Bearer',
        scopes: ['keys:read', 'keys:write', 'audit:read'],
        description: 'Operator tokens are configured on the server (MECHA_OPERATOR_TOKENS_JSON, a tokens file, or a custom verifier).',
      },
      runtime: {
        description: 'A Mecha key issued by an operator: a bearer token, an RFC 9421 signature, or both.',
        token: { header: 'Authorization', schemes: ['Mecha', 'Bearer'], format: 'mecha_<key id>_<52 base32 secret>_<7 base32 CRC-32 checksum>' },
        timestamp: { header: 'Mecha-Timestamp', format: 'unix seconds', window_seconds: config.timestampWindowSeconds },
        nonce: {
          header: 'Mecha-Nonce', format: 'base64url', min_length: 22, max_length: 128,
          rule: 'Each (key, nonce) pair is accepted once. It is recorded exactly once for every request whose credential verified, whatever the answer, and never for one refused before. Use at least 128 random bits per request.',
          remembered_seconds: 2 * config.timestampWindowSeconds + 60,
        },
        signature: {
          standard: 'RFC 9421 HTTP Message Signatures',
          profile: MECHA_TAG,
          label: 'mecha',
          tag: MECHA_TAG,
          algorithms: ['hmac-sha256', 'ed25519'],
          algorithm_rule: 'alg must be one registered on the key (signature.algorithms).',
          covered_components: [...MECHA_COMPONENTS],
          covered_components_with_body: [...MECHA_COMPONENTS, ...MECHA_BODY_COMPONENTS],
          covered_when_sent: [MECHA_IDEMPOTENCY_COMPONENT],
          required_parameters: ['keyid', 'alg', 'tag'],
          optional_parameters: { created: 'must equal Mecha-Timestamp', nonce: 'must equal Mecha-Nonce', expires: 'must not be past' },
          authority: config.publicAuthority,
          hmac_key: 'the UTF-8 bytes of the signing_secret string exactly as issued',
          ed25519_public_key: 'raw 32 bytes, unpadded base64url, registered on the key',
          digest: { header: 'Content-Digest', standard: 'RFC 9530', algorithms: ['sha-256', 'sha-512'], over: 'the raw body bytes' },
        },
        websocket_first_frame: {
          description: 'GET /v1/connect for clients that cannot send headers on an upgrade (browsers): offer the subprotocol and no credential headers, then answer the challenge frame with one authenticate frame whose fields stand for the credential headers; a signature also covers the challenge. The same checks as with headers (docs/protocol.md, "Authenticating in the first frame").',
          subprotocol: FRAME_AUTH_PROTOCOL,
          fields: { ...AUTHENTICATE_FIELDS },
          covered_components: [...MECHA_COMPONENTS, MECHA_CHALLENGE_COMPONENT],
          timeout_seconds: config.wsAuthTimeoutSeconds,
        },
        sender: 'Derived from the key; a message `from`, if present, must equal it.',
        message_id: 'Assigned by the gateway (msg_<ulid>), unique in the recipient\'s inbox; a body `id` is refused. Send an idempotency key in the Idempotency-Key header (covered by the signature); it is delivered as `idempotency_key`.',
        order_of_checks: RUNTIME_CHECKS.map((c) => ({ ...c, refusals: [...c.refusals] })),
        order_note: ORDER_NOTE,
      },
    },
    errors: Object.entries(CATALOGUE).map(([reason, e]) => ({ code: e.code, reason, status: e.status, meaning: e.meaning, fix: e.fix })),
    limits: {
      body_bytes: config.bodyLimitBytes,
      default_max_message_bytes: 65536,
      inbox_unacknowledged_messages: config.inboxLimit,
      visibility_timeout_seconds: config.visibilityTimeoutSeconds,
      long_poll_wait_seconds: 30,
      idempotency_seconds: config.idempotencyTtlSeconds,
      websocket_client_frame_bytes: MAX_CLIENT_FRAME_BYTES,
    },
    // What a 202 promises: where an accepted message is when the sender is told so (docs/security.md).
    durability,
    schemas: Object.fromEntries(schemaNames().map((name) => [name, `${base}/v1/schemas/${name}`])),
    documents: { openapi: `${base}/openapi.json`, docs: `${base}/docs`, mcp: `${base}/mcp` },
  }
}
