/**
 * A recipient mecha's delivery policy (issue 14): how often a message is delivered without an ack
 * before it is dead-lettered, how long it waits between deliveries, how long a delivery keeps it
 * invisible, and how long its dead letters are kept. Operators set it per mecha (`PATCH
 * /v1/mechas/{id}` `delivery`); what a mecha does not set comes from the configured defaults
 * (MECHA_MAX_DELIVERIES, MECHA_DELIVERY_BACKOFF_SECONDS, MECHA_VISIBILITY_TIMEOUT_SECONDS,
 * MECHA_DEAD_LETTER_TTL_SECONDS). The transport receives it, in ms, with every call that moves a
 * message (transport/types.ts DeliveryPolicy).
 */
import type { DeliverySettings, DeliveryOverrides } from '../model.js'
import type { DeliveryPolicy } from '../transport/types.js'

/** The defaults of the configuration's defaults (MECHA_MAX_DELIVERIES and the rest, as documented). */
export const DEFAULT_DELIVERY: Readonly<DeliverySettings> = Object.freeze({
  max_deliveries: 5, backoff_seconds: [], visibility_seconds: 30, dead_letter_ttl_seconds: 14 * 86_400,
})

/** The bounds of each field, shared by the configuration, the JSON schema and the checks below. */
export const DELIVERY_LIMITS = {
  max_deliveries: { min: 1, max: 1000 },
  /** At most this many waits, each at most 12 hours. */
  backoff_seconds: { maxItems: 10, min: 0, max: 43_200 },
  /** As MECHA_VISIBILITY_TIMEOUT_SECONDS (and SQS): at most 12 hours. */
  visibility_seconds: { min: 1, max: 43_200 },
  /** At least a minute, at most 30 days. */
  dead_letter_ttl_seconds: { min: 60, max: 30 * 86_400 },
} as const

/** JSON Schema of `delivery` in PATCH /v1/mechas/{id} (every field optional; null resets to the defaults). */
export const deliveryUpdate = {
  type: ['object', 'null'],
  additionalProperties: false,
  minProperties: 1,
  properties: {
    max_deliveries: { type: 'integer', minimum: DELIVERY_LIMITS.max_deliveries.min, maximum: DELIVERY_LIMITS.max_deliveries.max },
    backoff_seconds: {
      type: 'array', maxItems: DELIVERY_LIMITS.backoff_seconds.maxItems,
      items: { type: 'integer', minimum: DELIVERY_LIMITS.backoff_seconds.min, maximum: DELIVERY_LIMITS.backoff_seconds.max },
    },
    visibility_seconds: { type: 'integer', minimum: DELIVERY_LIMITS.visibility_seconds.min, maximum: DELIVERY_LIMITS.visibility_seconds.max },
    dead_letter_ttl_seconds: { type: 'integer', minimum: DELIVERY_LIMITS.dead_letter_ttl_seconds.min, maximum: DELIVERY_LIMITS.dead_letter_ttl_seconds.max },
  },
} as const

/** JSON Schema of `delivery` in a mecha view: the policy in effect. */
export const deliverySettings = {
  type: 'object',
  required: ['max_deliveries', 'backoff_seconds', 'visibility_seconds', 'dead_letter_ttl_seconds'],
  properties: deliveryUpdate.properties,
} as const

/**
 * Checks settings (complete, or an operator's overrides) against DELIVERY_LIMITS; returns the
 * problem, naming the field, or undefined. The HTTP schema checks the same bounds first; this is
 * for the configuration and for callers that bypass it.
 */
export function deliveryProblem(settings: DeliveryOverrides): string | undefined {
  for (const field of ['max_deliveries', 'visibility_seconds', 'dead_letter_ttl_seconds'] as const) {
    const value = settings[field]
    const { min, max } = DELIVERY_LIMITS[field]
    if (value !== undefined && (!Number.isSafeInteger(value) || value < min || value > max)) return `expected ${field} to be an integer from ${min} to ${max}, got ${String(value)}`
  }
  const backoff = settings.backoff_seconds
  if (backoff !== undefined) {
    const { maxItems, min, max } = DELIVERY_LIMITS.backoff_seconds
    if (!Array.isArray(backoff) || backoff.length > maxItems) return `expected backoff_seconds to be at most ${maxItems} integers, got ${JSON.stringify(backoff)}`
    for (const wait of backoff) {
      if (!Number.isSafeInteger(wait) || wait < min || wait > max) return `expected every backoff_seconds to be an integer from ${min} to ${max}, got ${String(wait)}`
    }
  }
  return undefined
}

/** The policy in effect for a mecha: its overrides over the defaults. */
export function effectiveDelivery(overrides: DeliveryOverrides | undefined, defaults: Readonly<DeliverySettings>): DeliverySettings {
  return {
    max_deliveries: overrides?.max_deliveries ?? defaults.max_deliveries,
    backoff_seconds: [...(overrides?.backoff_seconds ?? defaults.backoff_seconds)],
    visibility_seconds: overrides?.visibility_seconds ?? defaults.visibility_seconds,
    dead_letter_ttl_seconds: overrides?.dead_letter_ttl_seconds ?? defaults.dead_letter_ttl_seconds,
  }
}

/** The settings as the transport takes them: the visibility timeout and the policy, in ms. */
export function transportPolicy(settings: DeliverySettings): { visibilityMs: number; policy: Required<DeliveryPolicy> } {
  return {
    visibilityMs: settings.visibility_seconds * 1000,
    policy: {
      maxDeliveries: settings.max_deliveries,
      backoffMs: settings.backoff_seconds.map((seconds) => seconds * 1000),
      deadLetterTtlMs: settings.dead_letter_ttl_seconds * 1000,
    },
  }
}

/** MECHA_DELIVERY_BACKOFF_SECONDS: comma-separated seconds (`5,30,300`); `0` for no wait. */
export function parseBackoff(raw: string): number[] | undefined {
  if (!/^\d{1,5}(,\d{1,5})*$/.test(raw)) return undefined
  const waits = raw.split(',').map(Number)
  if (waits.every((wait) => wait === 0)) return []
  return deliveryProblem({ backoff_seconds: waits }) === undefined ? waits : undefined
}
