import { createHash, createHmac, randomBytes, sign, type KeyObject } from 'node:crypto'
import {
  MECHA_BODY_COMPONENTS, MECHA_COMPONENTS, buildSignatureBase, serializeSignature, serializeSignatureInput, serializeSignatureParams,
  type MechaSignatureParams,
} from '../src/crypto/signature-base.js'

/**
 * The bench's runtime signer, on node:crypto (the same construction as test/helpers/runtime.ts, which
 * bench code may not import). Requests are signed before a run, never during it, so the load
 * generator's own signing cannot limit the rate it measures.
 */
export const AUTH_MODES = ['bearer', 'hmac', 'ed25519'] as const
export type AuthMode = (typeof AUTH_MODES)[number]

export interface BenchCredentials {
  mode: AuthMode
  keyId: string
  token: string
  signingSecret?: string
  privateKey?: KeyObject
}

export interface RequestShape {
  method: 'GET' | 'POST'
  path: string
  body: Buffer | undefined
  /** `host[:port]` of MECHA_PUBLIC_URL: what `@authority` must be. */
  authority: string
}

export type HeaderSet = Record<string, string>

/** Signs one shape of request for one key: everything but the timestamp and nonce is computed once. */
export class RequestSigner {
  readonly mode: AuthMode
  readonly shape: RequestShape
  readonly #credentials: BenchCredentials
  readonly #fixed: HeaderSet
  readonly #components: string[]
  readonly #params: MechaSignatureParams | undefined
  readonly #signatureParams: string | undefined
  readonly #signatureInput: string | undefined
  readonly #hmacKey: Buffer | undefined

  constructor(credentials: BenchCredentials, shape: RequestShape) {
    this.mode = credentials.mode
    this.shape = shape
    this.#credentials = credentials
    this.#fixed = {}
    if (shape.body !== undefined) {
      this.#fixed['content-type'] = 'application/json'
      // autocannon writes `Content-Length` into the header object it is given; naming it here keeps
      // every pre-generated object the same shape and never sends the header twice.
      this.#fixed['Content-Length'] = String(shape.body.byteLength)
    }
    this.#components = [...MECHA_COMPONENTS]
    if (credentials.mode === 'bearer') return
    if (shape.body !== undefined) {
      this.#fixed['content-digest'] = `sha-256=:${createHash('sha256').update(shape.body).digest('base64')}:`
      this.#components.push(...MECHA_BODY_COMPONENTS)
    }
    const alg = credentials.mode === 'hmac' ? 'hmac-sha256' : 'ed25519'
    this.#params = { keyid: credentials.keyId, alg, tag: 'mecha-v1' }
    this.#signatureParams = serializeSignatureParams(this.#components, this.#params)
    this.#signatureInput = serializeSignatureInput(this.#components, this.#params)
    if (credentials.mode === 'hmac') {
      if (credentials.signingSecret === undefined) throw new TypeError('expected a signing secret for hmac, got none')
      this.#hmacKey = Buffer.from(credentials.signingSecret, 'utf8')
    } else if (credentials.privateKey === undefined) {
      throw new TypeError('expected an Ed25519 private key, got none')
    }
  }

  headers(timestamp: string, nonce: string): HeaderSet {
    if (this.mode === 'bearer') {
      return { ...this.#fixed, 'mecha-timestamp': timestamp, 'mecha-nonce': nonce, authorization: `Mecha ${this.#credentials.token}` }
    }
    const headers: HeaderSet = { ...this.#fixed, 'mecha-timestamp': timestamp, 'mecha-nonce': nonce }
    const base = buildSignatureBase(this.#components, this.#signatureParams as string, {
      method: this.shape.method,
      authority: this.shape.authority,
      path: this.shape.path,
      query: '?',
      header: (name) => headers[name],
    })
    if (!base.ok) throw new Error(`cannot build the signature base: ${base.detail}`)
    const signature = this.#hmacKey !== undefined
      ? createHmac('sha256', this.#hmacKey).update(base.value).digest()
      : sign(null, Buffer.from(base.value), this.#credentials.privateKey as KeyObject)
    headers['signature-input'] = this.#signatureInput as string
    headers.signature = serializeSignature(signature)
    return headers
  }
}

const NONCE_BYTES = 18

/** One pre-generated request: its headers, and the body of the shape it was signed for. */
export interface PooledRequest {
  readonly headers: HeaderSet
  readonly body: Buffer | undefined
}

/**
 * Pre-generated requests for one run, each with a fresh nonce. Given several signers (one per
 * recipient, say), entries take them in turn, so consecutive requests are spread over their shapes;
 * the shapes must share method and path. A pool that `cycles` (the bare server, which checks nothing)
 * hands its entries out again; otherwise `next()` returns undefined once all were used, and the run
 * reports that it ran out.
 */
export class RequestPool {
  readonly signers: readonly RequestSigner[]
  readonly cycles: boolean
  readonly #entries: PooledRequest[]
  #cursor = 0

  constructor(signers: RequestSigner | readonly RequestSigner[], size: number, options: { cycles?: boolean } = {}) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`expected a positive pool size, got ${size}`)
    this.signers = Array.isArray(signers) ? [...signers] : [signers as RequestSigner]
    const first = this.signers[0]
    if (first === undefined) throw new RangeError('expected at least one signer, got none')
    for (const { shape } of this.signers) {
      if (shape.method !== first.shape.method || shape.path !== first.shape.path) {
        throw new TypeError(`expected every signer to sign ${first.shape.method} ${first.shape.path}, got ${shape.method} ${shape.path}`)
      }
    }
    this.cycles = options.cycles ?? false
    const timestamp = String(Math.floor(Date.now() / 1000))
    const random = randomBytes(NONCE_BYTES * size)
    this.#entries = new Array<PooledRequest>(size)
    for (let i = 0; i < size; i++) {
      const signer = this.signers[i % this.signers.length] as RequestSigner
      const nonce = random.toString('base64url', i * NONCE_BYTES, (i + 1) * NONCE_BYTES)
      this.#entries[i] = { headers: signer.headers(timestamp, nonce), body: signer.shape.body }
    }
  }

  /** Method and path, common to every entry. */
  get shape(): RequestShape {
    return (this.signers[0] as RequestSigner).shape
  }

  get size(): number {
    return this.#entries.length
  }

  /** Entries handed out (beyond `size` when cycling). */
  get used(): number {
    return this.#cursor
  }

  next(): PooledRequest | undefined {
    if (this.#cursor >= this.#entries.length && !this.cycles) return undefined
    return this.#entries[this.#cursor++ % this.#entries.length]
  }
}

/**
 * A message body of about 480 bytes of JSON, the size of the reference request. Every request
 * of a run carries the same bytes: the gateway assigns the message id, so nothing repeats but the body.
 */
export function referenceBody(recipient: string, targetBytes = 480): Buffer {
  const message = (notes: string): string => JSON.stringify({
    to: recipient,
    kind: 'task.request',
    payload: {
      task: 'summarise-document',
      priority: 2,
      deadline: '2026-01-01T00:00:00Z',
      input: { document_id: 'doc_01HZX3K9Q2M4T7B8C5D6E1F0G', language: 'en', max_words: 250 },
      tags: ['bench', 'report', 'weekly'],
      notes,
    },
  })
  const filler = Math.max(0, targetBytes - Buffer.byteLength(message('')))
  return Buffer.from(message('x'.repeat(filler)), 'utf8')
}
