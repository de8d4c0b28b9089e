import { SCHEMA_DIALECT } from './common.js'
import { auditEvent, key, keyIssueRequest, keyIssueResponse, keyRotateRequest, keyUpdateRequest, mecha, mechaCreateRequest, mechaUpdateRequest } from './control-plane.js'
import { ackRequest, message, messageAccepted, messageRequest } from './gateway.js'
import { mode, modePutRequest } from './modes.js'
import { problem } from './problem.js'
import { session, sessionCancelRequest, sessionCommitRequest, sessionStartRequest } from './sessions.js'
import { discoveryDocument, directoryCard } from './discovery.js'

/**
 * Every published JSON Schema, by the name used in `/v1/schemas/{name}`. These are the very objects
 * the routes compile for validation: what is published is what is enforced.
 */
export const SCHEMAS = {
  'message-request': messageRequest,
  message,
  'message-accepted': messageAccepted,
  'ack-request': ackRequest,
  'mecha-create-request': mechaCreateRequest,
  'mecha-update-request': mechaUpdateRequest,
  mecha,
  'key-issue-request': keyIssueRequest,
  'key-issue-response': keyIssueResponse,
  'key-update-request': keyUpdateRequest,
  'key-rotate-request': keyRotateRequest,
  key,
  'mode-put-request': modePutRequest,
  mode,
  'session-start-request': sessionStartRequest,
  'session-commit-request': sessionCommitRequest,
  'session-cancel-request': sessionCancelRequest,
  session,
  'audit-event': auditEvent,
  problem,
  'discovery-document': discoveryDocument,
  'directory-card': directoryCard,
} as const

export type SchemaName = keyof typeof SCHEMAS

export function schemaNames(): SchemaName[] {
  return Object.keys(SCHEMAS) as SchemaName[]
}

export { SCHEMA_DIALECT }
