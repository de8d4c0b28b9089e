import type { KeyRecord, Permissions, SessionPermissions } from '../model.js'

/**
 * The session permissions a key has when it was given none (the MACP defaults): it may start
 * sessions, any number, in any mode, and may not change the mode registry. Keys stored before
 * `permissions.sessions` existed read as these too.
 */
export const DEFAULT_SESSION_PERMISSIONS: Readonly<SessionPermissions> = Object.freeze({
  can_start: true, max_open: null, modes: ['*'], can_manage_modes: false,
})

/** A key's session permissions, the defaults when its record has none. */
export function sessionPermissions(permissions: Permissions): SessionPermissions {
  return permissions.sessions ?? { ...DEFAULT_SESSION_PERMISSIONS, modes: [...DEFAULT_SESSION_PERMISSIONS.modes] }
}

/** A key's permissions as shown (key view, whoami): always with `sessions`. */
export function shownPermissions(key: Pick<KeyRecord, 'permissions'>): Required<Permissions> {
  return { ...key.permissions, sessions: sessionPermissions(key.permissions) }
}
