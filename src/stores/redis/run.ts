import { DependencyUnavailableError, type Dependency } from '../../errors/faults.js'

/**
 * Runs Redis work and turns any failure (connection lost, command timeout, script error) into
 * `DependencyUnavailableError(dependency)`: the caller answers 503 and never sees a Redis error.
 */
export async function runRedis<T>(dependency: Dependency, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw new DependencyUnavailableError(dependency, err)
  }
}
