import { SCHEMA_DIALECT, kind, mechaId } from './common.js'

export const messageId = { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'Message id; when the sender supplies one it is an idempotency key per sender.' } as const

export const messageRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:message-request',
  title: 'Send a message (the envelope a runtime posts)',
  type: 'object',
  additionalProperties: false,
  required: ['to', 'kind', 'payload'],
  properties: {
    to: mechaId,
    kind,
    payload: { description: 'Any JSON value.' },
    from: { ...mechaId, description: 'Optional; must equal the mecha the key acts for (the gateway fills it in).' },
    id: messageId,
    reply_to: { ...messageId, description: 'Id of the message this one answers.' },
  },
} as const

export const message = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:message',
  title: 'A delivered message',
  type: 'object',
  required: ['id', 'from', 'to', 'kind', 'payload', 'reply_to', 'accepted_at', 'delivery_count'],
  properties: {
    id: messageId,
    from: mechaId,
    to: mechaId,
    kind,
    payload: {},
    reply_to: { anyOf: [messageId, { type: 'null' }] },
    accepted_at: { type: 'string', format: 'date-time' },
    delivery_count: { type: 'integer', minimum: 1, description: 'More than 1 when an unacknowledged message is delivered again.' },
  },
} as const

export const messageAccepted = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:message-accepted',
  title: 'Acceptance of a message (202)',
  type: 'object',
  required: ['id', 'from', 'to', 'kind', 'accepted_at'],
  properties: { id: messageId, from: mechaId, to: mechaId, kind, accepted_at: { type: 'string', format: 'date-time' } },
} as const

export const inboxQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    wait: { type: 'integer', minimum: 0, maximum: 30, default: 0, description: 'Seconds to wait for a message when the inbox is empty (long-poll).' },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
  },
} as const

export const ackRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:ack-request',
  title: 'Acknowledge delivered messages',
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: { ids: { type: 'array', items: messageId, minItems: 1, maxItems: 100, uniqueItems: true } },
} as const
