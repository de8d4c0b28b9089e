import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { MAX_CLIENT_FRAME_BYTES } from '../../src/gateway/websocket.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { FRAME_AUTH_PROTOCOL, runtimeHeaders } from '../helpers/runtime.js'

/**
 * A client that breaks the WebSocket protocol (a frame over the limit, text that is not UTF-8) is
 * closed with the protocol's code, and that is the client's doing: it is logged at info with ws's
 * code, never as an error with a stack trace. Seen before: every such frame wrote an error-level log
 * line with a stack, also on a socket that had not authenticated yet (first-frame authentication),
 * so anyone could fill the error log.
 */
let h: GatewayHarness
let alpha: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness({ LOG_LEVEL: 'info' })
  await h.register('alpha')
  alpha = await h.issue('alpha')
})
afterAll(async () => { await h.close() })

/** Opens a socket, sends `frame` once it is open, and resolves with the close code the client saw. */
function closedAfter(socket: WebSocket, frame: Buffer | string, options: { binary: boolean }): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.on('error', () => {})
    socket.once('open', () => socket.send(frame, options))
    socket.once('close', (code) => resolve(code))
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)))
  })
}

const ws = (): string => `${h.base.replace('http', 'ws')}/v1/connect`
const headerSocket = (): WebSocket => new WebSocket(ws(), { headers: runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials: alpha, authority: h.t.config.publicAuthority }) })
const frameAuthSocket = (): WebSocket => new WebSocket(ws(), [FRAME_AUTH_PROTOCOL])

function levels(from: number): { level: number; msg: string; code?: string }[] {
  return h.t.logs.slice(from).map((line) => JSON.parse(line) as { level: number; msg: string; code?: string })
}

describe.each([
  ['authenticated by its headers', headerSocket],
  ['not authenticated yet (first-frame authentication)', frameAuthSocket],
])('a socket %s', (_name, open) => {
  it.each([
    ['a frame over the limit', 'a'.repeat(MAX_CLIENT_FRAME_BYTES + 1), false, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'],
    ['text that is not UTF-8', Buffer.from([0xff, 0xfe, 0xc3, 0x28]), false, 1007, 'WS_ERR_INVALID_UTF8'],
  ] as const)('sent %s: closed with the protocol\'s code, logged at info, not as an error', async (_what, frame, binary, code, wsCode) => {
    const from = h.t.logs.length
    expect(await closedAfter(open(), frame, { binary })).toBe(code)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const lines = levels(from)
    expect(lines.filter((line) => line.level >= 50)).toEqual([])
    expect(lines.some((line) => line.level === 30 && line.code === wsCode)).toBe(true)
  })
})
