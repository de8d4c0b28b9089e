import type { DeadLetter } from '../transport/types.js'

/**
 * Where the gateway's transport tells of each message it moved to the dead letters (its reads and
 * rejects, transport/receipts.ts): the metrics count them. A listener's failure is not the reader's.
 */
export class DeadLetterEvents {
  readonly #listeners = new Set<(deadLetter: DeadLetter) => void>()

  on(listener: (deadLetter: DeadLetter) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError(`expected listener to be a function, got ${typeof listener}`)
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  emit(deadLetters: readonly DeadLetter[]): void {
    for (const deadLetter of deadLetters) {
      for (const listener of this.#listeners) {
        try {
          listener(deadLetter)
        } catch {
          // deliberately ignored: counting is best effort, the dead letter is stored
        }
      }
    }
  }
}
