/**
 * RFC 9421 HTTP Message Signatures, as profiled by mecha-v1:
 *
 *   Signature-Input: mecha=("@method" "@authority" "@path" "@query" "mecha-timestamp" "mecha-nonce"
 *                           ["content-type" "content-digest"] ["idempotency-key"] ["mecha-challenge"]);keyid="…";alg="hmac-sha256"|"ed25519";tag="mecha-v1"
 *   Signature: mecha=:<base64>:
 *
 * Layers, each usable alone: {@link parseSignatureHeaders} is plain RFC 9421 for any label;
 * {@link parseMechaSignature} adds the profile's parameter rules; {@link checkCoveredComponents} is the
 * profile's component-set rule; {@link buildSignatureBase} is RFC 9421 section 2.5 for any component
 * list. Portable (no `node:` imports, no Buffer): the SDK signs with the same code the gateway verifies.
 */
import {
  parseDictionary,
  serializeBareItem,
  serializeInnerList,
  trimOptionalWhitespace,
  type InnerList,
  type Item,
  type Parameters,
} from './structured-fields.js'

export { decodeBase64, encodeBase64 } from './structured-fields.js'

export const MECHA_LABEL = 'mecha'
export const MECHA_TAG = 'mecha-v1'
export const MECHA_ALGORITHMS = ['hmac-sha256', 'ed25519'] as const
export type MechaAlgorithm = (typeof MECHA_ALGORITHMS)[number]

/** Covered by every mecha-v1 signature. */
export const MECHA_COMPONENTS = ['@method', '@authority', '@path', '@query', 'mecha-timestamp', 'mecha-nonce'] as const
/** Also covered when the request has a body. */
export const MECHA_BODY_COMPONENTS = ['content-type', 'content-digest'] as const
/** Also covered when the request sends the header (IETF httpapi Idempotency-Key draft). */
export const MECHA_IDEMPOTENCY_COMPONENT = 'idempotency-key'
/**
 * Covered by, and only by, the signature of a WebSocket authenticated in its first frame: its value
 * is the challenge the server sent on that socket, so the signature is good for that socket alone.
 */
export const MECHA_CHALLENGE_COMPONENT = 'mecha-challenge'

export interface MechaSignatureParams {
  keyid: string
  alg: MechaAlgorithm
  tag: string
  created?: number
  expires?: number
  nonce?: string
}

export interface ParsedSignature<P> {
  /** Component identifiers in the order the signer listed them (the signature base order). */
  components: string[]
  params: P
  /** The canonical serialization of the inner list: the value of the `@signature-params` line. */
  signatureParams: string
  signature: Uint8Array
}

export type SignatureFailure = { ok: false; reason: 'malformed'; detail: string }
export type SignatureParseResult<P> = { ok: true; value: ParsedSignature<P> } | SignatureFailure
export type SignatureBaseResult = { ok: true; value: string } | SignatureFailure

/** What {@link buildSignatureBase} reads from a request. */
export interface SignedRequest {
  /** As received (methods are case-sensitive). */
  method: string
  /** host[:port], default port already removed by the caller; lowercased here. */
  authority: string
  /** The absolute path, percent-encoding untouched; "" is read as "/". */
  path: string
  /** RFC 9421 `@query`: the query WITH its leading "?", or "?" (or "") when there is none. */
  query: string
  /** The field value for a lowercase name, several field lines already joined with ", "; else undefined. */
  header(name: string): string | undefined
}

/**
 * Plain RFC 9421 parsing of the member `label` of Signature-Input and Signature: no profile rules,
 * parameters returned as parsed. Components must be lowercase names without component parameters.
 */
export function parseSignatureHeaders(
  signatureInput: string,
  signature: string,
  label: string,
): SignatureParseResult<Parameters> {
  if (typeof signatureInput !== 'string') throw new TypeError(`expected Signature-Input as a string, got ${typeof signatureInput}`)
  if (typeof signature !== 'string') throw new TypeError(`expected Signature as a string, got ${typeof signature}`)
  if (typeof label !== 'string' || label === '') throw new TypeError(`expected a label, got ${JSON.stringify(label)}`)

  const inputs = parseDictionary(signatureInput)
  if (!inputs.ok) return malformed(`Signature-Input: ${inputs.error}`)
  const input = inputs.value.get(label)
  if (input === undefined) return malformed(`Signature-Input has no "${label}" member`)
  if (input.type !== 'inner-list') return malformed(`Signature-Input "${label}" is not an inner list`)

  const components: string[] = []
  for (const item of input.items) {
    if (item.value.type !== 'string') return malformed(`Signature-Input "${label}": a component identifier is not a string`)
    const component = item.value.value
    if (item.params.size > 0) return malformed(`Signature-Input "${label}": component parameters are not supported ("${component}")`)
    if (!COMPONENT_RE.test(component)) {
      return malformed(`Signature-Input "${label}": invalid component identifier ${JSON.stringify(component)}`)
    }
    components.push(component)
  }

  const signatures = parseDictionary(signature)
  if (!signatures.ok) return malformed(`Signature: ${signatures.error}`)
  const value = signatures.value.get(label)
  if (value === undefined) return malformed(`Signature has no "${label}" member`)
  if (value.type !== 'item' || value.value.type !== 'byte-sequence' || value.params.size > 0) {
    return malformed(`Signature "${label}" is not a byte sequence`)
  }

  return {
    ok: true,
    value: { components, params: input.params, signatureParams: serializeInnerList(input), signature: value.value.value },
  }
}

/**
 * mecha-v1 parsing: label `mecha`; keyid, alg and tag required; tag is "mecha-v1"; alg is one of
 * {@link MECHA_ALGORITHMS}; created, expires (non-negative integers) and nonce optional; nothing else.
 */
export function parseMechaSignature(signatureInput: string, signature: string): SignatureParseResult<MechaSignatureParams> {
  const parsed = parseSignatureHeaders(signatureInput, signature, MECHA_LABEL)
  if (!parsed.ok) return parsed
  const params = mechaParams(parsed.value.params)
  if (typeof params === 'string') return malformed(params)
  return { ok: true, value: { ...parsed.value, params } }
}

/**
 * The mecha-v1 component-set rule: exactly {@link MECHA_COMPONENTS}, plus {@link MECHA_BODY_COMPONENTS}
 * when the request has a body, plus {@link MECHA_IDEMPOTENCY_COMPONENT} when it sends an Idempotency-Key
 * (a key that is not signed could be changed in transit, turning a retry into a new message), plus
 * {@link MECHA_CHALLENGE_COMPONENT} when it is a WebSocket's authenticate frame (and never otherwise:
 * a signature over a challenge is good on its socket only, never as an HTTP request), in any order,
 * each once. Returns a description of the first problem.
 */
export function checkCoveredComponents(components: readonly string[], hasBody: boolean, hasIdempotencyKey = false, hasChallenge = false): string | undefined {
  if (!Array.isArray(components)) throw new TypeError(`expected an array of components, got ${typeof components}`)
  if (typeof hasBody !== 'boolean') throw new TypeError(`expected hasBody as a boolean, got ${typeof hasBody}`)
  if (typeof hasIdempotencyKey !== 'boolean') throw new TypeError(`expected hasIdempotencyKey as a boolean, got ${typeof hasIdempotencyKey}`)
  if (typeof hasChallenge !== 'boolean') throw new TypeError(`expected hasChallenge as a boolean, got ${typeof hasChallenge}`)
  const required: readonly string[] = coveredComponents(hasBody, hasIdempotencyKey, hasChallenge)
  const seen = new Set<string>()
  for (const component of components) {
    if (seen.has(component)) return `duplicate component "${component}"`
    seen.add(component)
    if (!required.includes(component)) {
      const why = (MECHA_BODY_COMPONENTS as readonly string[]).includes(component) ? ' (the request has no body)'
        : component === MECHA_IDEMPOTENCY_COMPONENT ? ' (the request sends no Idempotency-Key)'
          : component === MECHA_CHALLENGE_COMPONENT ? ' (only the authenticate frame of a WebSocket covers the server\'s challenge)' : ''
      return `unexpected component "${component}"${why}`
    }
  }
  const missing = required.find((component) => !seen.has(component))
  if (missing === MECHA_CHALLENGE_COMPONENT) return `missing component "${missing}" (an authenticate frame's signature covers the challenge the server sent on this socket)`
  return missing === undefined ? undefined : `missing component "${missing}"`
}

/** The components a mecha-v1 signature covers, in the canonical order (what signers send). */
export function coveredComponents(hasBody: boolean, hasIdempotencyKey = false, hasChallenge = false): string[] {
  return [
    ...MECHA_COMPONENTS, ...(hasBody ? MECHA_BODY_COMPONENTS : []), ...(hasIdempotencyKey ? [MECHA_IDEMPOTENCY_COMPONENT] : []),
    ...(hasChallenge ? [MECHA_CHALLENGE_COMPONENT] : []),
  ]
}

/**
 * RFC 9421 section 2.5: one `"<component>": <value>` line per covered component, in the order given,
 * then `"@signature-params": <signatureParams>`, joined by "\n" with no trailing newline.
 *
 * Supports the derived components @method, @authority, @path and @query (section 2.2) and any header
 * field. A missing header, an unsupported derived component, a repeated component, or a value outside
 * US-ASCII (the signature base is ASCII; a CR or LF would forge a line) is a failure result.
 */
export function buildSignatureBase(
  components: readonly string[],
  signatureParams: string,
  request: SignedRequest,
): SignatureBaseResult {
  if (!Array.isArray(components)) throw new TypeError(`expected an array of components, got ${typeof components}`)
  if (typeof signatureParams !== 'string' || !BASE_VALUE_RE.test(signatureParams) || !signatureParams.startsWith('(')) {
    throw new TypeError(`expected a serialized inner list, got ${JSON.stringify(signatureParams)}`)
  }
  checkRequest(request)

  const seen = new Set<string>()
  let base = ''
  for (const component of components) {
    if (typeof component !== 'string' || !COMPONENT_RE.test(component)) {
      return malformed(`invalid component identifier ${JSON.stringify(component)}`)
    }
    if (seen.has(component)) return malformed(`duplicate component "${component}"`)
    seen.add(component)
    const value = componentValue(component, request)
    if (typeof value !== 'string') return value
    if (!BASE_VALUE_RE.test(value)) return malformed(`component "${component}" has a character outside printable ASCII`)
    base += `"${component}": ${value}\n`
  }
  return { ok: true, value: `${base}"@signature-params": ${signatureParams}` }
}

/** The inner list for `@signature-params` (and Signature-Input): keyid, alg, tag, created, expires, nonce. */
export function serializeSignatureParams(components: readonly string[], params: MechaSignatureParams): string {
  if (!Array.isArray(components)) throw new TypeError(`expected an array of components, got ${typeof components}`)
  const items: Item[] = components.map((component) => {
    if (typeof component !== 'string' || !COMPONENT_RE.test(component)) {
      throw new TypeError(`expected a lowercase component identifier, got ${JSON.stringify(component)}`)
    }
    return { type: 'item', value: { type: 'string', value: component }, params: new Map() }
  })
  const problem = mechaParamsProblem(params)
  if (problem !== undefined) throw new TypeError(problem)
  const list: InnerList = { type: 'inner-list', items, params: new Map() }
  list.params.set('keyid', { type: 'string', value: params.keyid })
  list.params.set('alg', { type: 'string', value: params.alg })
  list.params.set('tag', { type: 'string', value: params.tag })
  if (params.created !== undefined) list.params.set('created', { type: 'integer', value: params.created })
  if (params.expires !== undefined) list.params.set('expires', { type: 'integer', value: params.expires })
  if (params.nonce !== undefined) list.params.set('nonce', { type: 'string', value: params.nonce })
  return serializeInnerList(list)
}

/** The Signature-Input field value: `mecha=` + {@link serializeSignatureParams}. */
export function serializeSignatureInput(components: readonly string[], params: MechaSignatureParams): string {
  return `${MECHA_LABEL}=${serializeSignatureParams(components, params)}`
}

/** The Signature field value: `mecha=:<base64>:`. */
export function serializeSignature(signature: Uint8Array): string {
  if (!(signature instanceof Uint8Array)) throw new TypeError(`expected a Uint8Array, got ${typeof signature}`)
  return `${MECHA_LABEL}=${serializeBareItem({ type: 'byte-sequence', value: signature })}`
}

/** Lowercase field names (RFC 9421 section 2.1) or derived component names; tchar only. */
const COMPONENT_RE = /^@?[a-z0-9!#$%&'*+\-.^_`|~]+$/
/** Printable US-ASCII and HTAB: what a signature base line may carry. */
const BASE_VALUE_RE = /^[\t\x20-\x7e]*$/
/** What an sf-string parameter may hold here: printable US-ASCII, non-empty. */
const PRINTABLE_RE = /^[\x20-\x7e]+$/
const SUPPORTED_DERIVED = new Set(['@method', '@authority', '@path', '@query'])

function malformed(detail: string): SignatureFailure {
  return { ok: false, reason: 'malformed', detail }
}

function componentValue(component: string, request: SignedRequest): string | SignatureFailure {
  if (component.startsWith('@')) {
    if (!SUPPORTED_DERIVED.has(component)) return malformed(`unsupported derived component "${component}"`)
    switch (component) {
      case '@method':
        return request.method === '' ? malformed('empty @method') : request.method
      case '@authority':
        return request.authority === '' ? malformed('empty @authority') : request.authority.toLowerCase()
      case '@path':
        return request.path === '' ? '/' : request.path
      default:
        return request.query === '' ? '?' : request.query
    }
  }
  const value = request.header(component)
  if (value === undefined) return malformed(`missing header "${component}"`)
  // RFC 9421 section 2.1: leading and trailing whitespace is not part of the value.
  return trimOptionalWhitespace(value)
}

function checkRequest(request: SignedRequest): void {
  if (request === null || typeof request !== 'object') throw new TypeError(`expected a request, got ${typeof request}`)
  for (const key of ['method', 'authority', 'path', 'query'] as const) {
    if (typeof request[key] !== 'string') throw new TypeError(`expected request.${key} as a string, got ${typeof request[key]}`)
  }
  if (request.query !== '' && !request.query.startsWith('?')) {
    throw new TypeError(`expected request.query to start with "?", got ${JSON.stringify(request.query)}`)
  }
  if (typeof request.header !== 'function') throw new TypeError(`expected request.header as a function, got ${typeof request.header}`)
}

const MECHA_PARAM_TYPES = new Map<string, 'string' | 'integer'>([
  ['keyid', 'string'],
  ['alg', 'string'],
  ['tag', 'string'],
  ['created', 'integer'],
  ['expires', 'integer'],
  ['nonce', 'string'],
])

/** The profile's parameter rules on parsed parameters; a string is the problem. */
function mechaParams(params: Parameters): MechaSignatureParams | string {
  const strings = new Map<string, string>()
  const integers = new Map<string, number>()
  for (const [name, value] of params) {
    const type = MECHA_PARAM_TYPES.get(name)
    if (type === undefined) return `unknown parameter "${name}"`
    if (type === 'string' && value.type === 'string') strings.set(name, value.value)
    else if (type === 'integer' && value.type === 'integer') integers.set(name, value.value)
    else return `parameter "${name}" must be ${type === 'string' ? 'a string' : 'an integer'}`
  }
  const keyid = strings.get('keyid')
  const alg = strings.get('alg')
  const tag = strings.get('tag')
  if (keyid === undefined) return 'missing keyid'
  if (alg === undefined) return 'missing alg'
  if (tag === undefined) return 'missing tag'
  if (!isMechaAlgorithm(alg)) return 'unknown alg'
  const result: MechaSignatureParams = { keyid, alg, tag }
  const created = integers.get('created')
  const expires = integers.get('expires')
  const nonce = strings.get('nonce')
  if (created !== undefined) result.created = created
  if (expires !== undefined) result.expires = expires
  if (nonce !== undefined) result.nonce = nonce
  return mechaParamsProblem(result) ?? result
}

function isMechaAlgorithm(alg: unknown): alg is MechaAlgorithm {
  return (MECHA_ALGORITHMS as readonly unknown[]).includes(alg)
}

function mechaParamsProblem(params: MechaSignatureParams): string | undefined {
  if (params === null || typeof params !== 'object') return `expected signature parameters, got ${typeof params}`
  if (typeof params.keyid !== 'string' || !PRINTABLE_RE.test(params.keyid)) return 'keyid must be a non-empty printable string'
  if (!isMechaAlgorithm(params.alg)) return 'unknown alg'
  if (params.tag !== MECHA_TAG) return `tag must be "${MECHA_TAG}"`
  for (const name of ['created', 'expires'] as const) {
    const value = params[name]
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0 || value > 999_999_999_999_999)) {
      return `${name} must be a non-negative integer`
    }
  }
  if (params.nonce !== undefined && (typeof params.nonce !== 'string' || !PRINTABLE_RE.test(params.nonce))) {
    return 'nonce must be a non-empty printable string'
  }
  return undefined
}
