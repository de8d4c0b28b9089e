/**
 * Faults: errors that stay local. They are logged with their cause and answered with a generic 503 or
 * 500 body; their messages never reach a client.
 */
export type Dependency = 'store' | 'replay_cache' | 'transport'

export class DependencyUnavailableError extends Error {
  readonly dependency: Dependency

  constructor(dependency: Dependency, cause?: unknown) {
    super(`${dependency} unavailable`, { cause })
    this.name = 'DependencyUnavailableError'
    this.dependency = dependency
  }
}

/** A compare-and-set lost a race: the caller may retry. */
export class VersionConflictError extends Error {
  constructor(what: string) {
    super(`${what} changed concurrently`)
    this.name = 'VersionConflictError'
  }
}
