import type { DeadLetterPage } from '../client/types.js'
import type { KeyView, MechaView } from '../control-plane/key-view.js'
import type {
  IssuedKey, KeyIssueInput, KeyUpdateInput, MechaCreateInput, MechaUpdateInput,
} from '../control-plane/service.js'
import type { ProblemBody } from '../errors/problem.js'
import type { ModeInput } from '../control-plane/modes.js'
import type { AuditEvent, AuditType, ModeRecord } from '../model.js'

export type FetchFn = typeof fetch

export interface ControlPlaneClientOptions {
  /** Origin of the control plane, optionally with a path prefix (a reverse proxy's mount point). */
  baseUrl: string
  /**
   * Operator bearer token. Never part of an error message. Undefined only for a client of the open
   * routes (GET /v1/modes), which sends no Authorization header.
   */
  token: string | undefined
  fetch?: FetchFn
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number
}

/** The control plane answered with an error status; `problem` is set when the body is problem+json. */
export class CliHttpError extends Error {
  readonly status: number
  readonly problem: ProblemBody | undefined

  constructor(message: string, status: number, problem: ProblemBody | undefined) {
    super(message)
    this.name = 'CliHttpError'
    this.status = status
    this.problem = problem
  }
}

/** No HTTP answer at all: refused, unresolvable, reset or timed out. */
export class CliNetworkError extends Error {
  constructor(url: string, cause: unknown) {
    super(`cannot reach the control plane at ${url} (${describeCause(cause)}): is it running? Set --url or MECHA_URL`)
    this.name = 'CliNetworkError'
  }
}

type MechaBody = { mecha: MechaView }
type KeyBody = { key: KeyView }
type ModeBody = { mode: ModeRecord }

/** One method per control-plane route; each returns the parsed JSON body or throws a Cli*Error. */
export class ControlPlaneClient {
  readonly #baseUrl: string
  readonly #token: string | undefined
  readonly #fetch: FetchFn
  readonly #timeoutMs: number

  constructor(options: ControlPlaneClientOptions) {
    const base = new URL(options.baseUrl)
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`expected an http(s) URL, got ${base.protocol}`)
    if (base.username !== '' || base.password !== '' || base.search !== '' || base.hash !== '') {
      throw new TypeError('expected a URL without credentials, query or fragment')
    }
    if (options.token === '') throw new TypeError('expected an operator token, got an empty string')
    this.#baseUrl = base.href.replace(/\/+$/, '')
    this.#token = options.token
    this.#fetch = options.fetch ?? fetch
    this.#timeoutMs = options.timeoutMs ?? 30_000
  }

  createMecha(input: MechaCreateInput): Promise<MechaBody> {
    return this.#send('POST', '/v1/mechas', input)
  }

  listMechas(page: { limit?: number; after?: string } = {}): Promise<{ mechas: MechaView[]; next: string | null }> {
    return this.#send('GET', `/v1/mechas${query(page)}`)
  }

  getMecha(id: string): Promise<MechaBody> {
    return this.#send('GET', `/v1/mechas/${encodeURIComponent(id)}`)
  }

  updateMecha(id: string, input: MechaUpdateInput): Promise<MechaBody> {
    return this.#send('PATCH', `/v1/mechas/${encodeURIComponent(id)}`, input)
  }

  /** GET /v1/mechas/{id}/dead-letters (issue 14). */
  listDeadLetters(id: string, page: { limit?: number; after?: string } = {}): Promise<DeadLetterPage> {
    return this.#send('GET', `/v1/mechas/${encodeURIComponent(id)}/dead-letters${query(page)}`)
  }

  /** POST /v1/mechas/{id}/dead-letters/redrive. */
  redriveDeadLetters(id: string, ids: readonly string[]): Promise<{ redriven: number }> {
    return this.#send('POST', `/v1/mechas/${encodeURIComponent(id)}/dead-letters/redrive`, { ids: [...ids] })
  }

  deactivateMecha(id: string): Promise<MechaBody> {
    return this.#send('DELETE', `/v1/mechas/${encodeURIComponent(id)}`)
  }

  issueKey(mechaId: string, input: KeyIssueInput): Promise<IssuedKey> {
    return this.#send('POST', `/v1/mechas/${encodeURIComponent(mechaId)}/keys`, input)
  }

  listKeys(mechaId: string): Promise<{ keys: KeyView[] }> {
    return this.#send('GET', `/v1/mechas/${encodeURIComponent(mechaId)}/keys`)
  }

  getKey(keyId: string): Promise<KeyBody> {
    return this.#send('GET', `/v1/keys/${encodeURIComponent(keyId)}`)
  }

  updateKey(keyId: string, input: KeyUpdateInput): Promise<KeyBody> {
    return this.#send('PATCH', `/v1/keys/${encodeURIComponent(keyId)}`, input)
  }

  revokeKey(keyId: string): Promise<KeyBody> {
    return this.#send('POST', `/v1/keys/${encodeURIComponent(keyId)}/revoke`)
  }

  rotateKey(keyId: string, graceSeconds?: number): Promise<IssuedKey> {
    return this.#send('POST', `/v1/keys/${encodeURIComponent(keyId)}/rotate`, graceSeconds === undefined ? undefined : { grace_seconds: graceSeconds })
  }

  listModes(): Promise<{ modes: ModeRecord[] }> {
    return this.#send('GET', '/v1/modes')
  }

  /** PUT /v1/modes/{name}: `created` when the server answered 201 (a new mode), else it replaced or kept it. */
  async putMode(name: string, input: ModeInput): Promise<ModeBody & { created: boolean }> {
    const { status, body } = await this.#request<ModeBody>('PUT', `/v1/modes/${encodeURIComponent(name)}`, input)
    return { ...body, created: status === 201 }
  }

  /** DELETE /v1/modes/{name}: 204, no body. */
  async deleteMode(name: string): Promise<void> {
    await this.#request('DELETE', `/v1/modes/${encodeURIComponent(name)}`)
  }

  listAudit(page: { limit?: number; before?: string; type?: AuditType } = {}): Promise<{ events: AuditEvent[]; next: string | null }> {
    return this.#send('GET', `/v1/audit${query(page)}`)
  }

  async #send<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.#request<T>(method, path, body)).body
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const url = `${this.#baseUrl}${path}`
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let status: number
    let location: string | null
    let text: string
    try {
      // Redirects are not followed: the operator token must only ever go to the URL the operator chose.
      const response = await this.#fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
      status = response.status
      location = response.headers.get('location')
      text = await response.text()
    } catch (err) {
      throw new CliNetworkError(this.#baseUrl, err)
    }
    // 204 No Content (DELETE /v1/modes/{name}) has no body to parse.
    if (status === 204) return { status, body: undefined as T }
    const parsed = parseJson(text)
    if (status >= 200 && status < 300 && parsed !== undefined) return { status, body: parsed as T }
    if (isProblemBody(parsed)) throw new CliHttpError(`${parsed.reason}: ${parsed.detail} (request ${parsed.request_id})`, status, parsed)
    if (status >= 300 && status < 400) {
      throw new CliHttpError(`${method} ${url} was redirected to ${location ?? 'an unknown location'}; set --url to the control plane's own address`, status, undefined)
    }
    const what = status >= 200 && status < 300 ? 'a body that is not JSON' : `HTTP ${status} without a problem+json body`
    throw new CliHttpError(`${method} ${url} answered ${what}: is this a mecharim control plane?`, status, undefined)
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, String(value))
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function isProblemBody(value: unknown): value is ProblemBody {
  if (typeof value !== 'object' || value === null) return false
  const body = value as Record<string, unknown>
  return typeof body.reason === 'string' && typeof body.detail === 'string' && typeof body.request_id === 'string'
}

function describeCause(err: unknown): string {
  if ((err as { name?: unknown } | undefined)?.name === 'TimeoutError') return 'timed out'
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  if (typeof code === 'string') return code
  return cause instanceof Error ? cause.message : String(cause)
}
