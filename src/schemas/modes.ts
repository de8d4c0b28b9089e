import { SCHEMA_DIALECT, kind, operatorName, timestamp } from './common.js'

/** A mode name: a protocol and, by convention, its version as a `.v<N>` suffix (`decision.v1`). */
export const modeName = {
  type: 'string', pattern: '^[a-z][a-z0-9._-]{0,63}$',
  description: 'Mode name: a-z first, then 0-63 of a-z 0-9 . _ -; by convention `<protocol>.v<version>`, e.g. `decision.v1`.',
} as const

const kinds = { type: 'array', items: kind, minItems: 1, maxItems: 64, uniqueItems: true, description: 'The message kinds the protocol uses (1-64, unique).' } as const
const description = { type: ['string', 'null'], maxLength: 2000 } as const
const version = { type: 'integer', minimum: 1, maximum: 2147483647, description: 'The protocol\'s version, a positive integer (by convention the name\'s `.v<N>` suffix).' } as const

export const modePutRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:mode-put-request',
  title: 'Create or replace a session mode',
  type: 'object',
  additionalProperties: false,
  required: ['kinds', 'version'],
  properties: { kinds, description, version },
} as const

export const mode = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:mode',
  title: 'Session mode (descriptive: it grants nothing)',
  type: 'object',
  required: ['name', 'kinds', 'description', 'version', 'created_at', 'created_by', 'updated_at', 'updated_by', 'revision'],
  properties: {
    name: modeName,
    kinds,
    description,
    version,
    created_at: timestamp,
    created_by: { ...operatorName, description: 'The operator, or `key:<key id>` for a runtime key.' },
    updated_at: timestamp,
    updated_by: { ...operatorName, description: 'The operator, or `key:<key id>` for a runtime key.' },
    revision: { type: 'integer', minimum: 1, description: 'Counts changes to this record.' },
  },
} as const
