import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../../src/config/load.js'

describe('delivery policy defaults (MECHA_MAX_DELIVERIES, MECHA_DELIVERY_BACKOFF_SECONDS, MECHA_DEAD_LETTER_TTL_SECONDS)', () => {
  it('defaults to 5 deliveries, no backoff, the visibility timeout, 14 days of dead letters', () => {
    expect(loadConfig({}).deliveryDefaults).toEqual({ max_deliveries: 5, backoff_seconds: [], visibility_seconds: 30, dead_letter_ttl_seconds: 1_209_600 })
  })

  it('reads each from its variable', () => {
    const config = loadConfig({
      MECHA_MAX_DELIVERIES: '3', MECHA_DELIVERY_BACKOFF_SECONDS: '5,30,300', MECHA_VISIBILITY_TIMEOUT_SECONDS: '60', MECHA_DEAD_LETTER_TTL_SECONDS: '3600',
    })
    expect(config.deliveryDefaults).toEqual({ max_deliveries: 3, backoff_seconds: [5, 30, 300], visibility_seconds: 60, dead_letter_ttl_seconds: 3600 })
  })

  it.each([
    ['MECHA_MAX_DELIVERIES', '0'],
    ['MECHA_MAX_DELIVERIES', '1001'],
    ['MECHA_DELIVERY_BACKOFF_SECONDS', '5,,30'],
    ['MECHA_DELIVERY_BACKOFF_SECONDS', '99999'],
    ['MECHA_DELIVERY_BACKOFF_SECONDS', '1,2,3,4,5,6,7,8,9,10,11'],
    ['MECHA_DEAD_LETTER_TTL_SECONDS', '59'],
  ])('refuses %s=%s at start, naming the variable', (name, raw) => {
    expect(() => loadConfig({ [name]: raw })).toThrow(ConfigError)
    expect(() => loadConfig({ [name]: raw })).toThrow(name)
  })
})
