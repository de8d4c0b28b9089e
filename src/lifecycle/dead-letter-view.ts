import type { DeadLetter } from '../transport/types.js'

/** A dead letter on the wire: the recipient's GET /v1/inbox/dead and the operators' GET /v1/mechas/{id}/dead-letters. */
export function deadLetterView(deadLetter: DeadLetter): Record<string, unknown> {
  return {
    message: deadLetter.message,
    reason: deadLetter.reason,
    deliveries: deadLetter.deliveries,
    dead_lettered_at: new Date(deadLetter.deadLetteredAt).toISOString(),
    expires_at: new Date(deadLetter.expiresAt).toISOString(),
    ...(deadLetter.detail === undefined ? {} : { detail: deadLetter.detail }),
  }
}

/** One page of dead letters: `limit` of them, and the cursor of the next page (null at the end). */
export function deadLetterPage(fetched: readonly DeadLetter[], limit: number): { dead_letters: Record<string, unknown>[]; next: string | null } {
  const shown = fetched.slice(0, limit)
  return { dead_letters: shown.map(deadLetterView), next: fetched.length > limit ? (shown.at(-1)?.message.id ?? null) : null }
}
