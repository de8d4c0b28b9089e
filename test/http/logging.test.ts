import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.js'

/**
 * Fastify's per-request lines ("incoming request", "request completed"): at debug in development and
 * test (two lines a request would scroll the terminal), at info in production (the access log).
 */
interface LogLine { level: number; msg: string; reqId?: string; req?: { method: string; url: string }; res?: { statusCode: number }; responseTime?: number }

const PER_REQUEST = new Set(['incoming request', 'request completed'])
const perRequest = (t: TestApp): LogLine[] => t.logs.map((l) => JSON.parse(l) as LogLine).filter((l) => PER_REQUEST.has(l.msg))
const PRODUCTION = { NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_MASTER_KEY: randomBytes(32).toString('hex'), MECHA_METRICS: 'off' }

let t: TestApp | undefined
afterEach(async () => {
  await t?.close()
  t = undefined
})

describe('per-request log lines in development', () => {
  it('at the default level (info) there are none', async () => {
    t = await testApp({ LOG_LEVEL: 'info' })
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    t.app.log.info('after the request')
    expect(t.logs.some((l) => l.includes('after the request'))).toBe(true) // info lines do reach the capture
    expect(perRequest(t)).toEqual([])
  })

  it('at LOG_LEVEL=debug each request has both, at debug, with its request id, status and time', async () => {
    t = await testApp({ LOG_LEVEL: 'debug' })
    const res = await t.app.inject({ method: 'GET', url: '/healthz' })
    const reqId = res.headers['x-request-id']
    const lines = perRequest(t).filter((l) => l.reqId === reqId)
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[20, 'incoming request'], [20, 'request completed']])
    expect(lines[0]?.req).toMatchObject({ method: 'GET', url: '/healthz' })
    expect(lines[1]?.res).toEqual({ statusCode: 200 })
    expect(typeof lines[1]?.responseTime).toBe('number')
  })

  it('NODE_ENV=test logs them as development does', async () => {
    t = await testApp({ NODE_ENV: 'test', LOG_LEVEL: 'info' })
    await t.app.inject({ method: 'GET', url: '/healthz' })
    expect(perRequest(t)).toEqual([])
  })
})

describe('per-request log lines in production', () => {
  it('stay at info: they are the access log', async () => {
    t = await testApp({ ...PRODUCTION, LOG_LEVEL: 'info' })
    const res = await t.app.inject({ method: 'GET', url: '/healthz' })
    const lines = perRequest(t).filter((l) => l.reqId === res.headers['x-request-id'])
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[30, 'incoming request'], [30, 'request completed']])
  })
})
