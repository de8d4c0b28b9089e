import { KEY_ID_RE, MECHA_ID_RE } from '../crypto/id-formats.js'
/** JSON Schema (2020-12) fragments shared by the route schemas. */
export const SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema'

export const mechaId = { type: 'string', pattern: MECHA_ID_RE.source, description: 'Mecha id: 1-64 of a-z 0-9 - _ .' } as const
export const keyId = { type: 'string', pattern: KEY_ID_RE.source, description: 'Key id: `mk` + 24 base32 characters.' } as const
export const kind = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$', description: 'Message kind, e.g. `task.request`.' } as const
export const globPattern = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._/*?-]+$', description: 'Glob: `*` any run, `?` one character.' } as const
export const timestamp = { type: 'string', format: 'date-time' } as const
export const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const
export const operatorName = { type: 'string' } as const

export const algorithm = { type: 'string', enum: ['hmac-sha256', 'ed25519'] } as const
export const publicKey = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'Raw 32-byte Ed25519 public key, unpadded base64url.' } as const

export const sessionPermissions = {
  type: 'object',
  additionalProperties: false,
  description: 'What the key may do with sessions: start them, in which modes, how many open at once; change modes through the gateway. Taking part in a session someone else started needs none of these. Omitted fields keep their value (on issue: the defaults).',
  properties: {
    can_start: { type: 'boolean', description: 'May start sessions. Default true.' },
    max_open: { type: ['integer', 'null'], minimum: 1, maximum: 100000, description: 'Most sessions open at once; null: no limit. Default null.' },
    modes: { type: 'array', items: globPattern, maxItems: 64, description: 'Mode names (globs) the key may start sessions in. Default `["*"]`.' },
    can_manage_modes: { type: 'boolean', description: 'May create and replace modes through the gateway (PUT /v1/runtime/modes/{name}); deleting one stays an operator\'s. Default false.' },
  },
} as const

export const permissions = {
  type: 'object',
  additionalProperties: false,
  properties: {
    recipients: { type: 'array', items: globPattern, minItems: 1, maxItems: 64, description: 'Mecha ids this key may send to (globs). Default `["*"]`.' },
    kinds: { type: 'array', items: globPattern, minItems: 1, maxItems: 64, description: 'Message kinds this key may send (globs). Default `["*"]`.' },
    max_message_bytes: { type: 'integer', minimum: 1, maximum: 16777216, description: 'Largest message body, in bytes. Default 65536.' },
    sessions: sessionPermissions,
  },
} as const

export const signaturePolicy = {
  type: 'object',
  additionalProperties: false,
  properties: {
    required: { type: 'boolean', description: 'Refuse unsigned requests. Default false.' },
    algorithms: { type: 'array', items: algorithm, uniqueItems: true, maxItems: 2, description: 'Algorithms this key may sign with.' },
  },
} as const

export const rateLimit = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['requests', 'per_seconds'],
  properties: {
    requests: { type: 'integer', minimum: 1, maximum: 1000000 },
    per_seconds: { type: 'integer', minimum: 1, maximum: 86400 },
  },
} as const
