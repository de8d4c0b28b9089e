import { SCHEMA_DIALECT, globPattern, mechaId, publicKey } from './common.js'

export const directoryCard = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:directory-card',
  title: 'Public card of a listed mecha',
  type: 'object',
  required: ['id', 'name', 'description', 'accepts', 'public_keys'],
  properties: {
    id: mechaId,
    name: { type: ['string', 'null'] },
    description: { type: ['string', 'null'] },
    accepts: { type: 'array', items: globPattern, description: 'Message kinds this mecha accepts (globs).' },
    public_keys: { type: 'array', items: publicKey, description: 'Ed25519 public keys of its active keys, for end-to-end verification by peers.' },
  },
} as const

export const discoveryDocument = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:discovery-document',
  title: 'The /.well-known/mecharim document',
  type: 'object',
  required: ['service', 'version', 'public_url', 'surfaces', 'authentication', 'errors', 'limits'],
  properties: {
    service: { const: 'mecharim' },
    version: { type: 'string' },
    public_url: { type: 'string', format: 'uri' },
    principle: { type: 'string' },
    surfaces: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'access', 'url', 'description'],
        properties: {
          name: { type: 'string' },
          access: { enum: ['open', 'operator', 'runtime'] },
          url: { type: 'string' },
          methods: { type: 'array', items: { type: 'string' } },
          description: { type: 'string' },
        },
      },
    },
    authentication: { type: 'object' },
    errors: { type: 'array', items: { type: 'object', required: ['code', 'reason', 'status', 'meaning'] } },
    limits: { type: 'object' },
    durability: {
      type: 'object',
      required: ['level', 'required', 'store', 'detail'],
      properties: {
        level: { enum: ['fsync', 'everysec', 'memory'] },
        required: { enum: ['fsync', 'everysec', 'memory'] },
        store: { enum: ['embedded', 'redis'] },
        detail: { type: 'string' },
      },
    },
    schemas: { type: 'object' },
  },
} as const
