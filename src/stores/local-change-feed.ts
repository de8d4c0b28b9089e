import type { ChangeFeed, RecordChange } from './types.js'

/** In-process change feed: the embedded store announces its own commits. Always live. */
export class LocalChangeFeed implements ChangeFeed {
  readonly live = true
  readonly #listeners = new Set<(change: RecordChange | 'reset') => void>()

  subscribe(listener: (change: RecordChange | 'reset') => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  publish(change: RecordChange): void {
    for (const listener of this.#listeners) listener(change)
  }

  async close(): Promise<void> {
    this.#listeners.clear()
  }
}
