import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { VARIABLES } from '../../../src/config/schema.js'

// No Docker engine runs here: the compose file and Dockerfile are checked by parsing them.
const compose = parse(readFileSync(new URL('../../../docker-compose.yml', import.meta.url), 'utf8')) as {
  services: Record<string, { command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, { condition: string }>; build?: string; image?: string; healthcheck?: unknown; volumes?: string[] }>
  volumes: Record<string, unknown>
}

describe('docker-compose.yml', () => {
  it('runs Redis with AOF on and a persistent volume', () => {
    const redis = compose.services.redis
    expect(redis?.image).toMatch(/^redis:7/)
    const cmd = redis?.command ?? []
    expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes')
    // an evicted nonce would reopen a replay window
    expect(cmd[cmd.indexOf('--maxmemory-policy') + 1]).toBe('noeviction')
    expect(redis?.volumes?.[0]).toMatch(/^redis-data:/)
    expect(compose.volumes).toHaveProperty('redis-data')
    expect(redis?.healthcheck).toBeDefined()
  })

  it('runs the service on Redis in production mode once Redis is healthy', () => {
    const svc = compose.services.mecharim
    expect(svc?.build).toBe('.')
    expect(svc?.depends_on?.redis?.condition).toBe('service_healthy')
    expect(svc?.environment).toMatchObject({ NODE_ENV: 'production', REDIS_URL: 'redis://redis:6379/0' })
    expect(svc?.environment?.MECHA_MASTER_KEY).toContain(':?')
    expect(svc?.environment?.MECHA_OPERATOR_TOKENS_JSON).toContain(':?')
  })

  it('sets only variables the service reads', () => {
    const known = new Set(VARIABLES.map((v) => v.name))
    for (const name of Object.keys(compose.services.mecharim?.environment ?? {})) expect(known, name).toContain(name)
  })
})

describe('Dockerfile', () => {
  const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8')
  it('builds with npm ci, runs unprivileged the compiled entry point', () => {
    expect(dockerfile).toContain('RUN npm ci')
    expect(dockerfile).toMatch(/^USER node$/m)
    expect(dockerfile).toContain('CMD ["node", "dist/main.js"]')
    expect(dockerfile).toMatch(/^FROM node:20/m)
  })
})
