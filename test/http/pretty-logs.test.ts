import { afterEach, describe, expect, it } from 'vitest'
import { prettyLogStream } from '../../src/observability/log-output.js'
import { OPERATORS, testApp, type TestApp } from '../helpers/app.js'

/** The pretty log output (development at a terminal) goes through the same logger as the JSON: same redaction. */
let t: TestApp | undefined
afterEach(async () => {
  await t?.close()
  t = undefined
})

describe('pretty output', () => {
  it('is readable, not JSON, and redacts what the JSON redacts', async () => {
    let text = ''
    const logStream = await prettyLogStream({ write: (chunk: string) => { text += chunk } }, { colorize: false })
    t = await testApp({ LOG_LEVEL: 'debug' }, { logStream })
    await t.app.inject({ method: 'GET', url: '/healthz' })
    t.app.log.info({ req: { headers: { authorization: `Bearer ${OPERATORS.admin}` } }, token: 'mop_planted' }, 'a line carrying credentials')
    const lines = text.split('\n').filter((l) => l !== '')
    expect(lines.length).toBeGreaterThan(2)
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([])
    expect(lines.some((l) => / DEBUG: request completed\b.*statusCode.*200/.test(l))).toBe(true)
    const planted = lines.find((l) => l.includes('a line carrying credentials'))
    expect(planted).toContain('[redacted]')
    expect(text).not.toContain(OPERATORS.admin)
    expect(text).not.toContain('mop_planted')
  })
})
