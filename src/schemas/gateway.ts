import { SCHEMA_DIALECT, kind, mechaId } from './common.js'
import { sessionId } from './sessions.js'

/** Kinds a runtime may send: any but the gateway's own `session.*` notifications. */
const sendableKind = { ...kind, not: { pattern: '^session\\.' }, description: 'Message kind, e.g. `task.request`; `session.*` kinds are the gateway\'s own.' } as const

export const messageId = { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'Message id, assigned by the gateway (`msg_<ulid>`) and unique in the recipient\'s inbox.' } as const

/** The sender's Idempotency-Key, as delivered (the request header's value without its quotes). */
export const idempotencyKey = { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'The Idempotency-Key the sender sent with the message, if any; scoped to the sender.' } as const

/** The longest `ttl_seconds` a message may carry: 30 days. */
export const MAX_TTL_SECONDS = 30 * 86_400
/** How far ahead `deliver_after` may be: 7 days. */
export const MAX_DELIVER_AFTER_SECONDS = 7 * 86_400

export const messageRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:message-request',
  title: 'Send a message (the envelope a runtime posts)',
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'payload'],
  // Outside a session `to` is required; in one, omitting it sends to every other participant.
  anyOf: [{ required: ['to'] }, { required: ['session'] }],
  properties: {
    to: { ...mechaId, description: 'The recipient; in a session, a participant (omit it to send to every other participant).' },
    kind: sendableKind,
    payload: { description: 'Any JSON value.' },
    session: { ...sessionId, description: 'The session the message belongs to: the sender and `to` must be participants, the session open, the kind one of its kinds.' },
    from: { ...mechaId, description: 'Optional; must equal the mecha the key acts for (the gateway fills it in).' },
    reply_to: { ...messageId, description: 'Id of the message this one answers.' },
    ttl_seconds: { type: 'integer', minimum: 1, maximum: MAX_TTL_SECONDS, description: 'Never delivered later than this after it was accepted: then it moves to the recipient\'s dead letters (reason `expired`).' },
    deliver_after: { type: 'integer', minimum: 0, description: 'Unix seconds, at most 7 days ahead: not delivered before.' },
    receipts: { type: 'boolean', description: 'false: no `mecha.delivery.failed` receipt when the message is dead-lettered (default true).' },
  },
} as const

export const message = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:message',
  title: 'A delivered message',
  type: 'object',
  required: ['id', 'from', 'to', 'kind', 'payload', 'reply_to', 'idempotency_key', 'accepted_at', 'delivery_count'],
  properties: {
    id: messageId,
    from: mechaId,
    to: mechaId,
    kind,
    payload: {},
    reply_to: { anyOf: [messageId, { type: 'null' }] },
    idempotency_key: { anyOf: [idempotencyKey, { type: 'null' }] },
    accepted_at: { type: 'string', format: 'date-time' },
    session: { ...sessionId, description: 'The session the message belongs to; absent outside sessions.' },
    delivery_count: { type: 'integer', minimum: 1, description: 'More than 1 when an unacknowledged message is delivered again.' },
    ttl_seconds: { type: 'integer', description: 'The sender\'s, when it set one.' },
    deliver_after: { type: 'integer', description: 'The sender\'s, when it set one.' },
    receipts: { type: 'boolean', description: 'The sender\'s, when it set one.' },
  },
} as const

export const messageAccepted = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:message-accepted',
  title: 'Acceptance of a message (202)',
  description: 'One message: its id and recipient. A session message sent without `to`: one message per other participant, listed in `messages`.',
  type: 'object',
  anyOf: [{ required: ['id', 'from', 'to', 'kind', 'accepted_at'] }, { required: ['session', 'from', 'kind', 'accepted_at', 'messages'] }],
  properties: {
    id: messageId, from: mechaId, to: mechaId, kind, accepted_at: { type: 'string', format: 'date-time' },
    session: sessionId,
    messages: { type: 'array', items: { type: 'object', required: ['id', 'to'], properties: { id: messageId, to: mechaId } } },
  },
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
