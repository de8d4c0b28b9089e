/** The JSON Schemas of the inbox's lifecycle routes (issue 14): nack, extend, reject, dead letters. */
import { MAX_REJECT_DETAIL_LENGTH } from '../transport/types.js'
import { SCHEMA_DIALECT } from './common.js'
import { messageId } from './gateway.js'

const ids = { type: 'array', items: messageId, minItems: 1, maxItems: 100, uniqueItems: true } as const
/** As MECHA_VISIBILITY_TIMEOUT_SECONDS and the extend bound: 12 hours. */
const TWELVE_HOURS = 43_200

export const nackRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:nack-request',
  title: 'Deliver messages again later',
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: {
    ids,
    delay_seconds: { type: 'integer', minimum: 0, maximum: TWELVE_HOURS, description: 'Visible again after this long; default: the recipient\'s backoff.' },
  },
} as const

export const extendRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:extend-request',
  title: 'Keep delivered messages invisible longer',
  type: 'object',
  additionalProperties: false,
  required: ['ids', 'seconds'],
  properties: {
    ids,
    seconds: { type: 'integer', minimum: 1, maximum: TWELVE_HOURS, description: 'Invisible until this long from now, at most 12 hours after the delivery.' },
  },
} as const

export const rejectRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:reject-request',
  title: 'Dead-letter delivered messages now',
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: {
    ids,
    reason: { type: 'string', maxLength: MAX_REJECT_DETAIL_LENGTH, description: 'Kept with the dead letter as its `detail`.' },
  },
} as const

export const deadLetterIdsRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:dead-letter-ids-request',
  title: 'Dead letters by message id',
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: { ids },
} as const

export const deadLettersQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
    after: { ...messageId, description: 'The last message id of the previous page.' },
  },
} as const
