/**
 * First-frame authentication of GET /v1/connect (docs/protocol.md, "Authenticating in the first
 * frame"). A browser's WebSocket sends no headers on the upgrade, so a client offers the subprotocol
 * {@link FRAME_AUTH_PROTOCOL} instead of credentials; the server opens with a `challenge` frame and
 * the client answers with ONE `authenticate` frame that carries what the credential headers of the
 * header path carry. The gateway reads that frame through the same header names, so the same pipeline
 * steps judge it. Portable (the SDK writes the frame with the same table the gateway reads it by).
 */

/** The subprotocol a client offers to authenticate in its first frame; the server selects it. */
export const FRAME_AUTH_PROTOCOL = 'mecha.frame-auth'

/** The authenticate frame's credential fields, and the header of the header path each one stands for. */
export const AUTHENTICATE_FIELDS = {
  token: 'authorization',
  timestamp: 'mecha-timestamp',
  nonce: 'mecha-nonce',
  signature_input: 'signature-input',
  signature: 'signature',
} as const

export type AuthenticateField = keyof typeof AUTHENTICATE_FIELDS

/** The credentials of an authenticate frame, checked for shape (the pipeline judges their content). */
export interface AuthenticateFrame {
  token?: string
  timestamp: number
  nonce: string
  signature_input?: string
  signature?: string
}

export type AuthenticateFrameResult =
  | { ok: true; frame: AuthenticateFrame }
  | { ok: false; reason: 'missing_credentials' | 'malformed_credentials'; detail: string }

const SHAPE = '{"type":"authenticate","timestamp":<unix seconds>,"nonce":"...","token":"mecha_...","signature_input":"mecha=(...)","signature":"mecha=:...:"}'
const FIELDS = new Set<string>(['type', ...Object.keys(AUTHENTICATE_FIELDS)])

/**
 * The shape of the first frame: a JSON text frame of type `authenticate` (anything else is
 * `missing_credentials`: no credentials were presented), with known fields of the right JSON types and
 * at least one credential (else `malformed_credentials` / `missing_credentials`). Syntax inside the
 * fields (token format, nonce, signature fields) is the `credentials` step's, as for headers.
 */
export function parseAuthenticateFrame(text: string | undefined): AuthenticateFrameResult {
  const refuse = (reason: 'missing_credentials' | 'malformed_credentials', detail: string): AuthenticateFrameResult => ({ ok: false, reason, detail })
  if (typeof text !== 'string') return refuse('missing_credentials', `the first frame must be a JSON text frame ${SHAPE}`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return refuse('missing_credentials', `the first frame is not JSON; expected ${SHAPE}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || (value as { type?: unknown }).type !== 'authenticate') {
    return refuse('missing_credentials', `before the ready frame the only frame accepted is ${SHAPE}`)
  }
  const fields = value as Record<string, unknown>
  for (const name of Object.keys(fields)) {
    if (!FIELDS.has(name)) return refuse('malformed_credentials', `the authenticate frame has an unknown field ${JSON.stringify(name.slice(0, 40))}`)
  }
  for (const name of ['token', 'nonce', 'signature_input', 'signature'] as const) {
    if (fields[name] !== undefined && typeof fields[name] !== 'string') return refuse('malformed_credentials', `the authenticate frame's \`${name}\` must be a string`)
  }
  const { timestamp, nonce } = fields
  if (timestamp === undefined) return refuse('malformed_credentials', 'the authenticate frame needs `timestamp` (unix seconds, a JSON integer)')
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    return refuse('malformed_credentials', 'the authenticate frame\'s `timestamp` must be unix time in whole seconds, as a JSON integer')
  }
  if (nonce === undefined) return refuse('malformed_credentials', 'the authenticate frame needs `nonce`')
  if (fields.token === undefined && fields.signature_input === undefined && fields.signature === undefined) {
    return refuse('missing_credentials', 'the authenticate frame carries `token` and/or `signature_input` with `signature`')
  }
  return { ok: true, frame: fields as unknown as AuthenticateFrame }
}

/** What a header of the header path is in an authenticate frame (undefined: the frame has no such field). */
export function frameHeader(frame: AuthenticateFrame, name: string): string | undefined {
  switch (name) {
    case AUTHENTICATE_FIELDS.token:
      return frame.token === undefined ? undefined : `Mecha ${frame.token}`
    case AUTHENTICATE_FIELDS.timestamp:
      return String(frame.timestamp)
    case AUTHENTICATE_FIELDS.nonce:
      return frame.nonce
    case AUTHENTICATE_FIELDS.signature_input:
      return frame.signature_input
    case AUTHENTICATE_FIELDS.signature:
      return frame.signature
    default:
      return undefined
  }
}

/** The authenticate frame for credential headers (the SDK's, for GET /v1/connect with the challenge covered). */
export function authenticateFrame(headers: Readonly<Record<string, string>>): string {
  const frame: Record<string, unknown> = { type: 'authenticate' }
  const authorization = headers[AUTHENTICATE_FIELDS.token]
  if (authorization !== undefined) frame.token = authorization.replace(/^Mecha /, '')
  frame.timestamp = Number(headers[AUTHENTICATE_FIELDS.timestamp])
  frame.nonce = headers[AUTHENTICATE_FIELDS.nonce]
  for (const name of ['signature_input', 'signature'] as const) {
    const value = headers[AUTHENTICATE_FIELDS[name]]
    if (value !== undefined) frame[name] = value
  }
  return JSON.stringify(frame)
}
