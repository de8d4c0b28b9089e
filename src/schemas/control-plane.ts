import { deliverySettings, deliveryUpdate } from '../lifecycle/delivery-policy.js'
import { AUDIT_TYPES } from '../model.js'
import {
  SCHEMA_DIALECT, algorithm, keyId, kind, mechaId, nullableTimestamp, operatorName, permissions,
  publicKey, rateLimit, signaturePolicy, timestamp, globPattern,
} from './common.js'

const publicKeys = { type: 'array', items: publicKey, maxItems: 8, description: 'Ed25519 public keys (for rotation, several may be live).' } as const
const expiry = {
  expires_at: { ...nullableTimestamp, description: 'When the key stops working (RFC 3339); null: never.' },
  ttl_seconds: { type: 'integer', minimum: 1, maximum: 315360000, description: 'Alternative to expires_at: seconds from now.' },
} as const

export const mechaCreateRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:mecha-create-request',
  title: 'Register a mecha',
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: {
    id: mechaId,
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 2000 },
    listed: { type: 'boolean', description: 'Publish a card in the public directory. Default false.' },
    accepts: { type: 'array', items: globPattern, minItems: 1, maxItems: 64, description: 'Message kinds this mecha accepts (globs). Default `["*"]`.' },
  },
} as const

export const mechaUpdateRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:mecha-update-request',
  title: 'Update a mecha',
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    name: { type: ['string', 'null'], minLength: 1, maxLength: 200 },
    description: { type: ['string', 'null'], maxLength: 2000 },
    listed: { type: 'boolean' },
    accepts: mechaCreateRequest.properties.accepts,
    delivery: deliveryUpdate,
  },
} as const

export const mecha = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:mecha',
  title: 'Mecha',
  type: 'object',
  required: ['id', 'name', 'description', 'listed', 'accepts', 'status', 'created_at', 'created_by', 'updated_at', 'deactivated_at', 'delivery'],
  properties: {
    id: mechaId,
    name: { type: ['string', 'null'] },
    description: { type: ['string', 'null'] },
    listed: { type: 'boolean' },
    accepts: { type: 'array', items: { type: 'string' } },
    status: { type: 'string', enum: ['active', 'inactive'] },
    created_at: timestamp,
    created_by: operatorName,
    updated_at: timestamp,
    deactivated_at: nullableTimestamp,
    delivery: deliverySettings,
  },
} as const

export const keyIssueRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:key-issue-request',
  title: 'Issue a Mecha key',
  type: 'object',
  additionalProperties: false,
  properties: {
    label: { type: 'string', minLength: 1, maxLength: 200 },
    ...expiry,
    permissions,
    signature: signaturePolicy,
    public_keys: publicKeys,
    rate_limit: { ...rateLimit, description: 'Omitted: MECHA_DEFAULT_KEY_RATE_LIMIT (default 100 per 1 s). null: no limit, as the operator\'s explicit choice.' },
  },
} as const

export const keyUpdateRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:key-update-request',
  title: 'Update a Mecha key',
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    label: { type: ['string', 'null'], minLength: 1, maxLength: 200 },
    ...expiry,
    permissions,
    signature: signaturePolicy,
    public_keys: publicKeys,
    rate_limit: rateLimit,
  },
} as const

export const keyRotateRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:key-rotate-request',
  title: 'Rotate a Mecha key',
  type: 'object',
  additionalProperties: false,
  properties: {
    grace_seconds: { type: 'integer', minimum: 0, maximum: 2592000, description: 'How long the previous token and signing secret keep working. Default 0.' },
  },
} as const

export const key = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:key',
  title: 'Mecha key metadata (never contains a secret)',
  type: 'object',
  required: ['id', 'mecha', 'label', 'status', 'created_at', 'created_by', 'updated_at', 'expires_at', 'revoked_at', 'revoked_by', 'permissions', 'signature', 'public_keys', 'rate_limit', 'credentials'],
  properties: {
    id: keyId,
    mecha: mechaId,
    label: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['active', 'expired', 'revoked', 'mecha_inactive'] },
    created_at: timestamp,
    created_by: operatorName,
    updated_at: timestamp,
    expires_at: nullableTimestamp,
    revoked_at: nullableTimestamp,
    revoked_by: { type: ['string', 'null'] },
    permissions: {
      ...permissions,
      required: ['recipients', 'kinds', 'max_message_bytes', 'sessions'],
      properties: { ...permissions.properties, sessions: { ...permissions.properties.sessions, required: ['can_start', 'max_open', 'modes', 'can_manage_modes'] } },
    },
    signature: { type: 'object', required: ['required', 'algorithms'], properties: { required: { type: 'boolean' }, algorithms: { type: 'array', items: algorithm } } },
    public_keys: publicKeys,
    rate_limit: rateLimit,
    credentials: {
      type: 'array',
      description: 'Live secret generations (rotation adds one); no secret material.',
      items: {
        type: 'object',
        required: ['generation', 'created_at', 'expires_at', 'signing_secret'],
        properties: {
          generation: { type: 'integer' },
          created_at: timestamp,
          expires_at: nullableTimestamp,
          signing_secret: { type: 'boolean', description: 'Whether this generation has an HMAC signing secret.' },
        },
      },
    },
  },
} as const

export const keyIssueResponse = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:key-issue-response',
  title: 'Issued (or rotated) Mecha key: the only response that carries secrets',
  type: 'object',
  required: ['key', 'token'],
  properties: {
    key,
    token: { type: 'string', pattern: '^mecha_mk[a-z2-7]{24}_[a-z2-7]{52}_[a-z2-7]{7}$', description: 'Bearer token, shown once.' },
    signing_secret: { type: 'string', pattern: '^mss_[A-Za-z0-9_-]{43}$', description: 'HMAC-SHA256 key (its UTF-8 bytes), shown once; present when the key signs with hmac-sha256.' },
  },
} as const

export const auditEvent = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:audit-event',
  title: 'Audit event',
  type: 'object',
  required: ['id', 'time', 'type', 'operator', 'target', 'request_id', 'details'],
  properties: {
    id: { type: 'string' },
    time: timestamp,
    type: { type: 'string', enum: [...AUDIT_TYPES] },
    operator: { type: ['string', 'null'] },
    target: { type: 'object', required: ['kind', 'id'], properties: { kind: { type: 'string', enum: ['mecha', 'key', 'mode', 'route', 'config'] }, id: { type: 'string' } } },
    request_id: { type: 'string' },
    details: { type: 'object' },
  },
} as const

export { kind }
