import { describe, expect, it } from 'vitest'
import { chooseLogFormat, prettyLogStream } from '../../../src/observability/log-output.js'

describe('chooseLogFormat: MECHA_LOG_FORMAT unset', () => {
  it.each([
    // environment, stdout a terminal, stderr a terminal, format
    ['development', true, true, 'pretty'],
    ['test', true, true, 'pretty'],
    // stdout redirected or piped (`npm start > log.jsonl`, `| jq`): that is asking for the JSON lines
    ['development', false, true, 'json'],
    ['development', true, false, 'json'],
    ['development', false, false, 'json'],
    // production logs are for a log pipeline, terminal or not
    ['production', true, true, 'json'],
  ] as const)('%s, stdout terminal %s, stderr terminal %s: %s', (environment, stdoutIsTTY, stderrIsTTY, format) => {
    expect(chooseLogFormat({ requested: undefined, environment, stdoutIsTTY, stderrIsTTY })).toBe(format)
  })
})

describe('chooseLogFormat: MECHA_LOG_FORMAT set', () => {
  it('json is JSON even in development at a terminal', () => {
    expect(chooseLogFormat({ requested: 'json', environment: 'development', stdoutIsTTY: true, stderrIsTTY: true })).toBe('json')
  })
  it('pretty is pretty even in production, without a terminal', () => {
    expect(chooseLogFormat({ requested: 'pretty', environment: 'production', stdoutIsTTY: false, stderrIsTTY: false })).toBe('pretty')
  })
})

describe('prettyLogStream', () => {
  const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 2, 3, 4, 5), pid: 1, hostname: 'h', reqId: 'req_1', msg: 'mecharim listening', store: 'embedded' })

  it('writes one readable line per log line, synchronously', async () => {
    let text = ''
    const stream = await prettyLogStream({ write: (chunk: string) => { text += chunk } }, { colorize: false })
    stream.write(`${line}\n`)
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: mecharim listening \{"reqId":"req_1","store":"embedded"\}\n$/)
  })

  it('colours only when asked', async () => {
    let text = ''
    const stream = await prettyLogStream({ write: (chunk: string) => { text += chunk } }, { colorize: true })
    stream.write(`${line}\n`)
    expect(text).toContain('\u001b[')
  })

  it('passes a line that is not JSON through as it is', async () => {
    let text = ''
    const stream = await prettyLogStream({ write: (chunk: string) => { text += chunk } }, { colorize: false })
    stream.write('not json\n')
    expect(text).toBe('not json\n')
  })
})
