import { CATALOGUE, ERROR_CODES } from '../errors/catalogue.js'
import { SCHEMA_DIALECT } from './common.js'

export const problem = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:problem',
  title: 'Problem details (RFC 9457) as every refusal is rendered',
  type: 'object',
  required: ['type', 'title', 'status', 'code', 'reason', 'detail', 'request_id'],
  properties: {
    type: { type: 'string', description: '`urn:mecharim:problem:<reason>`' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    code: { type: 'string', enum: Object.keys(ERROR_CODES) },
    reason: { type: 'string', enum: Object.keys(CATALOGUE) },
    detail: { type: 'string' },
    request_id: { type: 'string' },
    server_time: { type: 'integer', description: 'On stale_timestamp: the server time, unix seconds.' },
  },
  additionalProperties: true,
} as const
