import { describe, expect, it } from 'vitest'
import { deliveryProblem, effectiveDelivery, parseBackoff, transportPolicy } from '../../../src/lifecycle/delivery-policy.js'
import type { DeliverySettings } from '../../../src/model.js'

const defaults: DeliverySettings = { max_deliveries: 5, backoff_seconds: [], visibility_seconds: 30, dead_letter_ttl_seconds: 1_209_600 }

describe('delivery policy', () => {
  it('is the defaults where the mecha sets nothing, its overrides where it does', () => {
    expect(effectiveDelivery(undefined, defaults)).toEqual(defaults)
    expect(effectiveDelivery({ max_deliveries: 2, backoff_seconds: [1, 2] }, defaults)).toEqual({ ...defaults, max_deliveries: 2, backoff_seconds: [1, 2] })
  })

  it('reaches the transport in ms', () => {
    expect(transportPolicy({ max_deliveries: 3, backoff_seconds: [5, 30], visibility_seconds: 10, dead_letter_ttl_seconds: 60 })).toEqual({
      visibilityMs: 10_000, policy: { maxDeliveries: 3, backoffMs: [5000, 30_000], deadLetterTtlMs: 60_000 },
    })
  })

  it('names the field that is out of bounds', () => {
    expect(deliveryProblem({ max_deliveries: 0 })).toMatch(/max_deliveries/)
    expect(deliveryProblem({ visibility_seconds: 43_201 })).toMatch(/visibility_seconds/)
    expect(deliveryProblem({ backoff_seconds: [1, -1] })).toMatch(/backoff_seconds/)
    expect(deliveryProblem({ dead_letter_ttl_seconds: 1 })).toMatch(/dead_letter_ttl_seconds/)
    expect(deliveryProblem({ max_deliveries: 1000, backoff_seconds: [0, 43_200] })).toBeUndefined()
  })

  it('parses a backoff list, 0 meaning none', () => {
    expect(parseBackoff('5,30,300')).toEqual([5, 30, 300])
    expect(parseBackoff('0')).toEqual([])
    expect(parseBackoff('5, 30')).toBeUndefined()
    expect(parseBackoff('')).toBeUndefined()
  })
})
