import { createHash } from 'node:crypto'
import fc from 'fast-check'

/**
 * Mutations of a valid signed request, as data (so fast-check can print and shrink them), and the
 * one function that applies them. Every mutation changes something a mecha-v1 signature covers:
 * method, authority, path, query, Mecha-Timestamp, Mecha-Nonce, Content-Type, Content-Digest, the
 * body bytes, the signature bytes or the Signature-Input parameters; or adds a token of another key.
 */

/** Signature-Input kept as a model (label, components, parameters as raw structured-field text). */
export interface SignatureInputModel {
  label: string
  components: string[]
  params: [string, string][]
}

/** A signed request as data. `headers` has lowercase names and no signature-input (see `signatureInput`). */
export interface SignedWire {
  method: string
  path: string
  /** `?` followed by the raw query, or `?` alone. */
  query: string
  headers: Record<string, string>
  signatureInput: SignatureInputModel
  body: Buffer
}

export interface MutationContext {
  base: SignedWire
  publicAuthority: string
  /** The base request's Mecha-Timestamp. */
  timestamp: number
  /** Ids of other real keys (and one unknown id) a keyid may be switched to. */
  otherKeyIds: readonly string[]
  /** Valid tokens of other keys. */
  otherTokens: readonly string[]
  /** The base request, signed (same timestamp, nonce and body) for another authority. */
  resign(authority: string): SignedWire
  /** Only mutations node:http can send and the HTTP server can parse as a request. */
  http: boolean
}

type BodyEdit =
  | { op: 'flip'; index: number; bit: number }
  | { op: 'insert'; index: number; byte: number }
  | { op: 'delete'; index: number }
  | { op: 'replace'; bytes: Uint8Array }
  | { op: 'append'; text: string }
  | { op: 'reformat' }

type SignatureEdit =
  | { op: 'flip'; index: number; bit: number }
  | { op: 'truncate'; length: number }
  | { op: 'extend'; bytes: Uint8Array }
  | { op: 'replace'; bytes: Uint8Array }
  | { op: 'char'; index: number; char: string }

type ParamsEdit =
  | { op: 'set'; name: string; value: string }
  | { op: 'drop'; index: number }
  | { op: 'reorder'; order: number[] }
  | { op: 'reorder-components'; order: number[] }
  | { op: 'drop-component'; index: number }
  | { op: 'add-component'; name: string; at: number }
  | { op: 'rename-component'; index: number; name: string }
  | { op: 'label'; label: string }

export type Mutation =
  | { kind: 'method' | 'authority' | 'path' | 'query' | 'authorization'; value: string }
  | { kind: 'header'; name: 'mecha-timestamp' | 'mecha-nonce' | 'content-type' | 'content-digest'; value: string }
  | { kind: 'body'; edit: BodyEdit }
  | { kind: 'signature'; edit: SignatureEdit }
  | { kind: 'params'; edit: ParamsEdit }

export function renderSignatureInput(model: SignatureInputModel): string {
  const params = model.params.map(([name, value]) => `;${name}=${value}`).join('')
  return `${model.label}=(${model.components.map((c) => `"${c}"`).join(' ')})${params}`
}

/** The header block as sent. */
export function wireHeaders(wire: SignedWire): Record<string, string> {
  return { ...wire.headers, 'signature-input': renderSignatureInput(wire.signatureInput) }
}

/** Equal as the server reads it: header values without surrounding whitespace, body byte for byte. */
export function sameRequest(a: SignedWire, b: SignedWire): boolean {
  if (a.method !== b.method || a.path !== b.path || a.query !== b.query || !a.body.equals(b.body)) return false
  const ha = wireHeaders(a)
  const hb = wireHeaders(b)
  const names = new Set([...Object.keys(ha), ...Object.keys(hb)])
  for (const name of names) if (ha[name]?.trim() !== hb[name]?.trim()) return false
  return true
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')
const permutation = (n: number): fc.Arbitrary<number[]> =>
  fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }).filter((p) => p.some((v, i) => v !== i))

/** One mutation of a covered part; `ctx.http` keeps to what can go over the wire. */
export function mutationArb(ctx: MutationContext): fc.Arbitrary<Mutation> {
  const { base, http } = ctx
  const header = (name: string): string => base.headers[name] ?? ''
  const [host, port] = ctx.publicAuthority.split(':') as [string, string | undefined]
  const otherPort = String(Number(port ?? 80) + 1)

  const methods = http
    ? fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS')
    : fc.oneof(fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'post', 'Post', 'POST ', 'CONNECT'), fc.stringMatching(/^[A-Z]{1,12}$/))
  const authorities = fc.oneof(
    fc.constantFrom(`${host}:${otherPort}`, host, `localhost:${port ?? 80}`, `${ctx.publicAuthority}.`, `[::1]:${port ?? 80}`, `evil.example:${port ?? 80}`, `${host}:${port ?? 80}@evil.example`),
    fc.domain(),
    fc.tuple(fc.domain(), fc.integer({ min: 1, max: 65535 })).map(([d, p]) => `${d}:${p}`),
  )
  const pathConstants = fc.constantFrom(
    '/v1/messages/', '/v1//messages', '/v1/Messages', '/V1/messages', '/v1/messag%65s', '/v1/%6Dessages', '/v1/./messages',
    '/v1/x/../messages', '//v1/messages', '/v1/inbox', '/v1/messages;x', '/v1/messages%20', '/v1/messages.json',
  )
  const paths = http
    ? fc.oneof(pathConstants, fc.stringMatching(/^\/[A-Za-z0-9/._~-]{0,30}$/))
    : fc.oneof(pathConstants, fc.webPath(), fc.string({ maxLength: 40 }))
  const queries = http
    ? fc.oneof(fc.constant('?'), fc.stringMatching(/^[A-Za-z0-9=&._~-]{1,24}$/).map((q) => `?${q}`))
    : fc.oneof(fc.constant('?'), fc.constant(''), fc.string({ minLength: 1, maxLength: 30 }).map((q) => `?${q}`))
  const timestamps = fc.oneof(
    fc.integer({ min: -240, max: 240 }).filter((d) => d !== 0).map((d) => String(ctx.timestamp + d)),
    fc.integer({ min: 1, max: 4 }).map((zeros) => `${'0'.repeat(zeros)}${ctx.timestamp}`),
  )
  const originalNonce = header('mecha-nonce')
  const nonces = fc.oneof(
    fc.uint8Array({ minLength: 17, maxLength: 90 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
    fc.nat({ max: originalNonce.length - 1 }).map((i) => {
      const c = originalNonce[i] as string
      const swapped = c.toUpperCase() !== c ? c.toUpperCase() : c.toLowerCase() !== c ? c.toLowerCase() : c === '-' ? '_' : '-'
      return `${originalNonce.slice(0, i)}${swapped}${originalNonce.slice(i + 1)}`
    }),
  )
  const contentTypes = fc.oneof(
    fc.constantFrom('application/json; charset=utf-8', 'Application/json', 'application/JSON', 'text/plain', 'application/problem+json',
      'application/json;', 'application/json, application/json', 'application/x-www-form-urlencoded', 'application/vnd.api+json', ''),
    fc.string({ maxLength: 40 }),
  )
  const digest = header('content-digest')
  const digests = fc.oneof(
    fc.constantFrom(
      `sha-512=:${createHash('sha512').update(base.body).digest('base64')}:`,
      `${digest}, sha-512=:${createHash('sha512').update(base.body).digest('base64')}:`,
      `${digest};x`, `${digest}, md5=:AAAAAAAAAAAAAAAAAAAAAA==:`, digest.replace('sha-256', 'SHA-256'), '',
    ),
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => `sha-256=:${b64(bytes)}:`),
    fc.string({ maxLength: 60 }),
  )
  const bodyEdits: fc.Arbitrary<BodyEdit> = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), index: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('insert' as const), index: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), index: fc.nat() }),
    fc.record({ op: fc.constant('replace' as const), bytes: fc.uint8Array({ maxLength: 200 }) }),
    fc.record({ op: fc.constant('append' as const), text: fc.constantFrom(' ', '\n', '\r\n', '{}', '\u0000') }),
    fc.constant({ op: 'reformat' as const }),
  )
  const signatureEdits: fc.Arbitrary<SignatureEdit> = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), index: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('truncate' as const), length: fc.nat({ max: 63 }) }),
    fc.record({ op: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ op: fc.constant('replace' as const), bytes: fc.uint8Array({ minLength: 32, maxLength: 64 }) }),
    fc.record({ op: fc.constant('char' as const), index: fc.nat(), char: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('')) }),
  )
  const model = base.signatureInput
  const keyid = model.params.find(([name]) => name === 'keyid')?.[1] ?? '""'
  const paramValues = fc.oneof(
    fc.constantFrom(...ctx.otherKeyIds.map((id) => `"${id}"`), keyid.toUpperCase()).map((value) => ({ name: 'keyid', value })),
    fc.constantFrom('"ed25519"', '"hmac-sha256"', '"HMAC-SHA256"', 'hmac-sha256', '"rsa-pss-sha512"').map((value) => ({ name: 'alg', value })),
    fc.constantFrom('"mecha-v2"', '"MECHA-V1"', 'mecha-v1', '"mecha-v1 "').map((value) => ({ name: 'tag', value })),
    fc.constantFrom(String(ctx.timestamp), String(ctx.timestamp - 1)).map((value) => ({ name: 'created', value })),
    fc.constantFrom(String(ctx.timestamp + 600), String(ctx.timestamp + 1)).map((value) => ({ name: 'expires', value })),
    fc.constant({ name: 'nonce', value: `"${originalNonce}"` }),
    fc.constantFrom(['foo', '"bar"'], ['Keyid', keyid], ['created', '"now"']).map(([name, value]) => ({ name, value })),
  )
  const componentNames = fc.constantFrom('@target-uri', '@request-target', '@scheme', 'authorization', 'host', 'content-length', '@method', 'mecha-nonce', 'signature')
  const paramsEdits: fc.Arbitrary<ParamsEdit> = fc.oneof(
    paramValues.map(({ name, value }) => ({ op: 'set' as const, name, value })),
    fc.nat({ max: model.params.length - 1 }).map((index) => ({ op: 'drop' as const, index })),
    permutation(model.params.length).map((order) => ({ op: 'reorder' as const, order })),
    permutation(model.components.length).map((order) => ({ op: 'reorder-components' as const, order })),
    fc.nat({ max: model.components.length - 1 }).map((index) => ({ op: 'drop-component' as const, index })),
    fc.record({ op: fc.constant('add-component' as const), name: componentNames, at: fc.nat({ max: model.components.length }) }),
    fc.record({ op: fc.constant('rename-component' as const), index: fc.nat({ max: model.components.length - 1 }), name: componentNames }),
    fc.constantFrom('sig1', 'mecha-v1', 'm').map((label) => ({ op: 'label' as const, label })),
  )

  return fc.oneof(
    methods.filter((v) => v !== base.method).map((value) => ({ kind: 'method' as const, value })),
    authorities.filter((v) => v.toLowerCase() !== ctx.publicAuthority.toLowerCase()).map((value) => ({ kind: 'authority' as const, value })),
    paths.filter((v) => v !== base.path).map((value) => ({ kind: 'path' as const, value })),
    queries.filter((v) => v !== base.query).map((value) => ({ kind: 'query' as const, value })),
    timestamps.map((value) => ({ kind: 'header' as const, name: 'mecha-timestamp' as const, value })),
    nonces.filter((v) => v !== originalNonce).map((value) => ({ kind: 'header' as const, name: 'mecha-nonce' as const, value })),
    contentTypes.filter((v) => v.trim() !== header('content-type')).map((value) => ({ kind: 'header' as const, name: 'content-type' as const, value })),
    digests.filter((v) => v.trim() !== digest).map((value) => ({ kind: 'header' as const, name: 'content-digest' as const, value })),
    bodyEdits.map((edit) => ({ kind: 'body' as const, edit })),
    signatureEdits.map((edit) => ({ kind: 'signature' as const, edit })),
    paramsEdits.map((edit) => ({ kind: 'params' as const, edit })),
    fc.constantFrom(...ctx.otherTokens).map((token) => ({ kind: 'authorization' as const, value: `Mecha ${token}` })),
  )
}

/** One to three mutations; an authority change (a re-signing) goes first so the others apply on top. */
export function mutationsArb(ctx: MutationContext): fc.Arbitrary<Mutation[]> {
  return fc.array(mutationArb(ctx), { minLength: 1, maxLength: 3 })
    .map((list) => [...list.filter((m) => m.kind === 'authority'), ...list.filter((m) => m.kind !== 'authority')])
}

export function applyMutations(mutations: readonly Mutation[], ctx: MutationContext): SignedWire {
  return mutations.reduce((wire, m) => applyMutation(wire, m, ctx), ctx.base)
}

export function applyMutation(wire: SignedWire, m: Mutation, ctx: MutationContext): SignedWire {
  switch (m.kind) {
    case 'method':
      return { ...wire, method: m.value }
    case 'authority':
      return ctx.resign(m.value)
    case 'path':
      return { ...wire, path: m.value }
    case 'query':
      return { ...wire, query: m.value }
    case 'authorization':
      return { ...wire, headers: { ...wire.headers, authorization: m.value } }
    case 'header':
      return { ...wire, headers: { ...wire.headers, [m.name]: m.value } }
    case 'body':
      return { ...wire, body: editBody(wire.body, m.edit) }
    case 'signature':
      return { ...wire, headers: { ...wire.headers, signature: editSignature(wire.headers.signature ?? '', m.edit) } }
    case 'params':
      return { ...wire, signatureInput: editParams(wire.signatureInput, m.edit) }
  }
}

function editBody(body: Buffer, edit: BodyEdit): Buffer {
  const at = (index: number, size: number): number => (size === 0 ? 0 : index % size)
  switch (edit.op) {
    case 'flip': {
      if (body.length === 0) return Buffer.from([1 << edit.bit])
      const copy = Buffer.from(body)
      const i = at(edit.index, copy.length)
      copy[i] = (copy[i] as number) ^ (1 << edit.bit)
      return copy
    }
    case 'insert': {
      const i = at(edit.index, body.length + 1)
      return Buffer.concat([body.subarray(0, i), Buffer.from([edit.byte]), body.subarray(i)])
    }
    case 'delete': {
      if (body.length === 0) return Buffer.from(' ')
      const i = at(edit.index, body.length)
      return Buffer.concat([body.subarray(0, i), body.subarray(i + 1)])
    }
    case 'replace':
      return Buffer.from(edit.bytes)
    case 'append':
      return Buffer.concat([body, Buffer.from(edit.text)])
    case 'reformat':
      // The same JSON value in other bytes: the digest covers bytes, not meaning.
      try {
        return Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8')), null, 1))
      } catch {
        return Buffer.concat([Buffer.from(' '), body])
      }
  }
}

function editSignature(header: string, edit: SignatureEdit): string {
  const match = /^([^=]+)=:([^:]*):$/.exec(header)
  if (match === null) throw new Error(`unexpected Signature ${header}`)
  const [, label, text] = match as unknown as [string, string, string]
  const bytes = Buffer.from(text, 'base64')
  if (bytes.length === 0) return `${label}=:${b64(Buffer.from([edit.op.length]))}:`
  switch (edit.op) {
    case 'flip': {
      const i = edit.index % bytes.length
      bytes[i] = (bytes[i] as number) ^ (1 << edit.bit)
      return `${label}=:${b64(bytes)}:`
    }
    case 'truncate':
      return `${label}=:${b64(bytes.subarray(0, edit.length % bytes.length))}:`
    case 'extend':
      return `${label}=:${b64(Buffer.concat([bytes, edit.bytes]))}:`
    case 'replace':
      return `${label}=:${b64(edit.bytes)}:`
    case 'char': {
      const letters = text.replace(/=+$/, '')
      const i = edit.index % letters.length
      const char = edit.char === letters[i] ? (edit.char === 'A' ? 'B' : 'A') : edit.char
      return `${label}=:${text.slice(0, i)}${char}${text.slice(i + 1)}:`
    }
  }
}

function editParams(model: SignatureInputModel, edit: ParamsEdit): SignatureInputModel {
  const params = model.params.map(([n, v]): [string, string] => [n, v])
  const components = [...model.components]
  switch (edit.op) {
    case 'set': {
      const existing = params.findIndex(([name]) => name === edit.name)
      if (existing === -1) params.push([edit.name, edit.value])
      else params[existing] = [edit.name, edit.value]
      return { ...model, params }
    }
    case 'drop':
      return { ...model, params: params.filter((_p, i) => i !== edit.index % params.length) }
    case 'reorder':
      return { ...model, params: reorder(params, edit.order) }
    case 'reorder-components':
      return { ...model, components: reorder(components, edit.order) }
    case 'drop-component':
      return { ...model, components: components.filter((_c, i) => i !== edit.index % components.length) }
    case 'add-component':
      components.splice(edit.at % (components.length + 1), 0, edit.name)
      return { ...model, components }
    case 'rename-component':
      if (components.length === 0) return { ...model, components: [edit.name] }
      components[edit.index % components.length] = edit.name
      return { ...model, components }
    case 'label':
      return { ...model, label: edit.label }
  }
}

/** `order` applied to the items it names (an earlier mutation may have changed the count); the rest keep their place at the end. */
function reorder<T>(items: readonly T[], order: readonly number[]): T[] {
  const named = order.filter((i) => i < items.length)
  return [...named.map((i) => items[i] as T), ...items.filter((_item, i) => !named.includes(i))]
}
