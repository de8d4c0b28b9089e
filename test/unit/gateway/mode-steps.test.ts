import { describe, expect, it } from 'vitest'
import { Problem } from '../../../src/errors/problem.js'
import type { GatewayContext } from '../../../src/gateway/context.js'
import { PIPELINE } from '../../../src/gateway/pipeline.js'
import { checkModePermission } from '../../../src/gateway/steps/modes.js'
import { DEFAULT_SESSION_PERMISSIONS } from '../../../src/permissions/sessions.js'
import { keyRecord } from '../../helpers/records.js'

const withSessions = (sessions: object | undefined): GatewayContext => {
  const key = keyRecord('alpha')
  if (sessions !== undefined) key.permissions = { ...key.permissions, sessions: { ...DEFAULT_SESSION_PERMISSIONS, ...sessions } }
  return { key } as unknown as GatewayContext
}

describe('mode-permission step', () => {
  it('passes a key with can_manage_modes', () => {
    expect(checkModePermission(withSessions({ can_manage_modes: true }))).toBeUndefined()
  })

  it('refuses cannot_manage_modes for false, and for a key stored before sessions existed (the default)', () => {
    for (const ctx of [withSessions({ can_manage_modes: false }), withSessions(undefined)]) {
      const refusal = checkModePermission(ctx)
      expect(refusal).toBeInstanceOf(Problem)
      expect((refusal as Problem).reason).toBe('cannot_manage_modes')
    }
  })

  it('runs on PUT /v1/runtime/modes/{name} after the nonce and the schema, before the write', () => {
    const names = PIPELINE.filter((s) => s.routes === 'all' || s.routes.includes('put-mode')).map((s) => s.name)
    const at = (name: string): number => names.indexOf(name)
    for (const earlier of ['credentials', 'timestamp', 'key', 'token', 'signature', 'authenticated', 'nonce', 'body', 'schema']) {
      expect(at(earlier), earlier).toBeGreaterThanOrEqual(0)
      expect(at(earlier), earlier).toBeLessThan(at('mode-permission'))
    }
    expect(at('mode-permission')).toBeLessThan(at('put-mode'))
  })
})
