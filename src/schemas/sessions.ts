import { SCHEMA_DIALECT, kind, mechaId, nullableTimestamp, timestamp } from './common.js'
import { modeName } from './modes.js'
import { MAX_SESSION_PARTICIPANTS } from '../sessions/types.js'

export const sessionId = { type: 'string', pattern: '^ses_[0-9a-z]{26}$', description: 'Session id: `ses_` + a lowercase ULID, assigned by the gateway.' } as const

/** Longest session: 7 days. */
export const MAX_SESSION_TTL_SECONDS = 604_800
export const MIN_SESSION_TTL_SECONDS = 10

const intent = { type: 'string', minLength: 1, maxLength: 1024, description: 'What the session is for, for people and agents (free text).' } as const
const reason = { type: 'string', minLength: 1, maxLength: 1024 } as const

export const sessionStartRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:session-start-request',
  title: 'Start a session',
  type: 'object',
  additionalProperties: false,
  required: ['mode', 'participants', 'ttl_seconds'],
  properties: {
    mode: modeName,
    participants: {
      type: 'array', items: mechaId, minItems: 1, maxItems: MAX_SESSION_PARTICIPANTS, uniqueItems: true,
      description: `The mechas taking part; the caller is added when absent, and at least one other is needed (at most ${MAX_SESSION_PARTICIPANTS} in all).`,
    },
    intent,
    ttl_seconds: { type: 'integer', minimum: MIN_SESSION_TTL_SECONDS, maximum: MAX_SESSION_TTL_SECONDS, description: 'Seconds until the session expires (it then takes no more messages and its participants are told).' },
  },
} as const

export const sessionCommitRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:session-commit-request',
  title: 'Commit a session (the initiator)',
  type: 'object',
  additionalProperties: false,
  required: ['outcome'],
  properties: { outcome: { description: 'The decision: any JSON value, told to every participant.' }, reason },
} as const

export const sessionCancelRequest = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:session-cancel-request',
  title: 'Cancel a session (the initiator)',
  type: 'object',
  additionalProperties: false,
  properties: { reason },
} as const

export const sessionListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { type: 'string', enum: ['open', 'closed', 'all'], default: 'all', description: '`open`, `closed` (committed, cancelled or expired), or `all`.' },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
    after: { ...sessionId, description: 'The `next` of the previous page.' },
  },
} as const

export const sessionParams = { type: 'object', required: ['id'], properties: { id: sessionId } } as const

export const session = {
  $schema: SCHEMA_DIALECT,
  $id: 'urn:mecharim:schema:session',
  title: 'A session, as its participants see it',
  type: 'object',
  required: ['id', 'mode', 'kinds', 'initiator', 'participants', 'intent', 'state', 'outcome', 'reason', 'created_at', 'expires_at', 'closed_at'],
  properties: {
    id: sessionId,
    mode: modeName,
    kinds: { type: 'array', items: kind, description: 'The mode\'s kinds when the session started: the kinds its messages may have.' },
    initiator: { ...mechaId, description: 'The mecha that started it; the only one that may commit or cancel.' },
    participants: { type: 'array', items: mechaId, description: 'Sorted; the initiator included.' },
    intent: { anyOf: [intent, { type: 'null' }] },
    state: { type: 'string', enum: ['open', 'committed', 'cancelled', 'expired'] },
    outcome: { description: 'The commit\'s outcome; null otherwise.' },
    reason: { anyOf: [reason, { type: 'null' }], description: 'The commit\'s or cancel\'s reason; `ttl` when it expired.' },
    created_at: timestamp,
    expires_at: timestamp,
    closed_at: nullableTimestamp,
  },
} as const
