import { newEventId, newKeyId } from '../../src/crypto/ids.js'
import type { AuditEvent, AuditType, KeyRecord, MechaRecord, ModeRecord } from '../../src/model.js'

export function mechaRecord(id: string, overrides: Partial<MechaRecord> = {}): MechaRecord {
  const now = new Date().toISOString()
  return {
    id, name: null, description: null, listed: false, accepts: ['*'], status: 'active',
    created_at: now, created_by: 'tester', updated_at: now, deactivated_at: null, version: 1,
    ...overrides,
  }
}

export function keyRecord(mecha: string, overrides: Partial<KeyRecord> = {}): KeyRecord {
  const now = new Date().toISOString()
  return {
    id: newKeyId(), mecha, label: null, created_at: now, created_by: 'tester', updated_at: now,
    expires_at: null, revoked_at: null, revoked_by: null,
    permissions: { recipients: ['*'], kinds: ['*'], max_message_bytes: 65536 },
    signature: { required: false, algorithms: [] },
    public_keys: [], rate_limit: null,
    credentials: [{ generation: 1, token_digest: 'digest', signing_secret_enc: null, created_at: now, expires_at: null }],
    version: 1,
    ...overrides,
  }
}

export function modeRecord(name: string, overrides: Partial<ModeRecord> = {}): ModeRecord {
  const now = new Date().toISOString()
  return {
    name, kinds: ['proposal', 'vote', 'commit'], description: null, version: 1,
    created_at: now, created_by: 'tester', updated_at: now, updated_by: 'tester', revision: 1,
    ...overrides,
  }
}

export function auditEvent(type: AuditType, targetId: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: newEventId(), time: new Date().toISOString(), type, operator: 'tester',
    target: { kind: type.startsWith('key') ? 'key' : type.startsWith('mode') ? 'mode' : 'mecha', id: targetId }, request_id: 'req-1', details: {},
    ...overrides,
  }
}
