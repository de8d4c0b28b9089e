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

/**
 * The replay cache's Redis may drop nonces (its maxmemory-policy is not `noeviction`, or it cannot be
 * read): claims and accepts fail closed, answered 503 `replay_cache_unsafe`. A DependencyUnavailableError
 * so that every caller that fails closed on an unreachable replay cache fails closed on this too.
 * `message` is for operators (start-up refusal, log); `publicDetail` is what /readyz may show.
 */
export class ReplayCacheUnsafeError extends DependencyUnavailableError {
  readonly publicDetail: string

  constructor(message: string, publicDetail: string) {
    super('replay_cache')
    this.name = 'ReplayCacheUnsafeError'
    this.message = message
    this.publicDetail = publicDetail
  }
}

/** A compare-and-set lost a race: the caller may retry. */
export class VersionConflictError extends Error {
  constructor(what: string) {
    super(`${what} changed concurrently`)
    this.name = 'VersionConflictError'
  }
}
