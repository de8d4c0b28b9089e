import { expect, it } from 'vitest'
import { loadConfig, withPort } from '../../../src/config/load.js'

const BASE = { MECHA_MASTER_KEY: '00'.repeat(32) }

it('a public origin that follows the port names the port chosen', () => {
  const chosen = withPort(loadConfig({ ...BASE, PORT: '0', HOST: '::1' }), 40123)
  expect([chosen.port, chosen.publicUrl, chosen.publicAuthority]).toEqual([40123, 'http://[::1]:40123', '[::1]:40123'])
})

it('a MECHA_PUBLIC_URL stays as it was set', () => {
  const chosen = withPort(loadConfig({ ...BASE, PORT: '0', MECHA_PUBLIC_URL: 'https://gateway.example' }), 40123)
  expect([chosen.port, chosen.publicUrl, chosen.publicAuthority]).toEqual([40123, 'https://gateway.example', 'gateway.example'])
})
