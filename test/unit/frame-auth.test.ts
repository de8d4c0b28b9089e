import { describe, expect, it } from 'vitest'
import { AUTHENTICATE_FIELDS, authenticateFrame, frameHeader, parseAuthenticateFrame } from '../../src/frame-auth.js'
import { offersFrameAuth } from '../../src/gateway/steps/frame-handshake.js'

const FRAME = { type: 'authenticate', timestamp: 1795300000, nonce: 'bWVjaGEtdjEtZXhhbXBsZS1ub25jZSE', token: 'mecha_t' }

describe('parseAuthenticateFrame', () => {
  it('accepts a frame with a token, or a signature, or both', () => {
    expect(parseAuthenticateFrame(JSON.stringify(FRAME))).toEqual({ ok: true, frame: FRAME })
    const signed = { ...FRAME, token: undefined, signature_input: 'mecha=()', signature: 'mecha=:AA==:' }
    expect(parseAuthenticateFrame(JSON.stringify(signed))).toMatchObject({ ok: true })
  })

  it.each([
    ['a binary frame', undefined],
    ['text that is not JSON', 'hello'],
    ['a JSON array', '[]'],
    ['another frame type', '{"type":"ack","ids":["msg_1"]}'],
    ['a frame without credentials', JSON.stringify({ ...FRAME, token: undefined })],
  ])('%s is missing_credentials', (_name, text) => {
    expect(parseAuthenticateFrame(text)).toMatchObject({ ok: false, reason: 'missing_credentials' })
  })

  it.each([
    ['an unknown field', { ...FRAME, headers: {} }],
    ['__proto__ as a field', JSON.parse(`{"type":"authenticate","timestamp":1,"nonce":"n","token":"t","__proto__":{}}`) as object],
    ['a timestamp as a string', { ...FRAME, timestamp: '1795300000' }],
    ['a fractional timestamp', { ...FRAME, timestamp: 1.5 }],
    ['a negative timestamp', { ...FRAME, timestamp: -1 }],
    ['no timestamp', { ...FRAME, timestamp: undefined }],
    ['no nonce', { ...FRAME, nonce: undefined }],
    ['a token that is not a string', { ...FRAME, token: 42 }],
  ])('%s is malformed_credentials', (_name, frame) => {
    expect(parseAuthenticateFrame(JSON.stringify(frame))).toMatchObject({ ok: false, reason: 'malformed_credentials' })
  })
})

describe('the frame stands for the credential headers', () => {
  it('reads each field through its header name, and nothing else', () => {
    const parsed = parseAuthenticateFrame(JSON.stringify({ ...FRAME, signature_input: 'mecha=()', signature: 'mecha=:AA==:' }))
    if (!parsed.ok) throw new Error(parsed.detail)
    expect(Object.fromEntries(Object.values(AUTHENTICATE_FIELDS).map((name) => [name, frameHeader(parsed.frame, name)]))).toEqual({
      authorization: 'Mecha mecha_t', 'mecha-timestamp': '1795300000', 'mecha-nonce': FRAME.nonce, 'signature-input': 'mecha=()', signature: 'mecha=:AA==:',
    })
    for (const name of ['content-digest', 'mecha-dev-sender', 'mecha-challenge', 'idempotency-key', 'sec-websocket-protocol']) expect(frameHeader(parsed.frame, name)).toBeUndefined()
  })

  it('authenticateFrame writes what parseAuthenticateFrame reads', () => {
    const headers = { authorization: 'Mecha mecha_t', 'mecha-timestamp': '1795300000', 'mecha-nonce': FRAME.nonce }
    expect(parseAuthenticateFrame(authenticateFrame(headers))).toEqual({ ok: true, frame: FRAME })
  })
})

describe('offersFrameAuth', () => {
  it('finds the subprotocol in a Sec-WebSocket-Protocol list, and nothing like it', () => {
    expect(offersFrameAuth('mecha.frame-auth')).toBe(true)
    expect(offersFrameAuth('chat, mecha.frame-auth')).toBe(true)
    expect(offersFrameAuth(' mecha.frame-auth ,chat')).toBe(true)
    for (const value of [undefined, '', 'mecha.frame-auth2', 'mecha', 'Mecha.Frame-Auth']) expect(offersFrameAuth(value)).toBe(false)
  })
})
