import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { Ajv2020 } from 'ajv/dist/2020.js'
import * as addFormatsModule from 'ajv-formats'
import type { FastifyInstance, HTTPMethods, InjectOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { parseDocument } from 'yaml'
import { OPERATOR_SCOPES, VARIABLES, type Config } from '../../../src/config/schema.js'
import { MECHA_ALGORITHMS, MECHA_BODY_COMPONENTS, MECHA_COMPONENTS, MECHA_LABEL, MECHA_TAG } from '../../../src/crypto/signature-base.js'
import { CATALOGUE, ERROR_CODES, isReason, type Reason } from '../../../src/errors/catalogue.js'
import { problemType } from '../../../src/errors/problem.js'
import { MAX_CLIENT_FRAME_BYTES } from '../../../src/gateway/websocket.js'
import { TOOL_NAMES } from '../../../src/discovery/mcp/server.js'
import { AUDIT_TYPES } from '../../../src/model.js'
import { testApp } from '../../helpers/app.js'
import { authenticateFrame, runtimeHeaders, type RuntimeCredentials, type RuntimeRequestOptions } from '../../helpers/runtime.js'
import { keyId, mechaId } from '../../../src/schemas/common.js'
import {
  auditEvent, key, keyIssueRequest, keyIssueResponse, keyRotateRequest, keyUpdateRequest, mecha,
  mechaCreateRequest, mechaUpdateRequest,
} from '../../../src/schemas/control-plane.js'
import { directoryCard, discoveryDocument } from '../../../src/schemas/discovery.js'
import { ackRequest, inboxQuery, message, messageAccepted, messageRequest } from '../../../src/schemas/gateway.js'
import { schemaNames } from '../../../src/schemas/registry.js'
import { mode, modeName, modePutRequest } from '../../../src/schemas/modes.js'
import { session, sessionCancelRequest, sessionCommitRequest, sessionId, sessionListQuery, sessionStartRequest } from '../../../src/schemas/sessions.js'
import { surfaceOf } from '../../../src/surfaces.js'

// ------------------------------------------------------------------ the document

type Json = Record<string, unknown>

interface Operation {
  operationId?: string
  tags?: string[]
  summary?: string
  description?: string
  security?: Record<string, string[]>[]
  parameters?: Json[]
  requestBody?: Json
  responses?: Record<string, Json>
  'x-mecharim-access'?: string
  'x-mecharim-scope'?: string
  'x-mecharim-websocket'?: Json
}

interface DocumentedOperation {
  method: string
  /** The OpenAPI path, e.g. `/v1/keys/{keyId}`. */
  path: string
  /** The same path in Fastify syntax, e.g. `/v1/keys/:keyId`. */
  fastifyPath: string
  op: Operation
  /** Path-item parameters and operation parameters, $refs resolved. */
  parameters: Json[]
}

const OPENAPI_FILE = new URL('../../../openapi.yaml', import.meta.url)
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

function loadDocument(): Json {
  const parsed = parseDocument(readFileSync(OPENAPI_FILE, 'utf8'), { uniqueKeys: true, prettyErrors: true })
  if (parsed.errors.length > 0 || parsed.warnings.length > 0) {
    throw new Error(`openapi.yaml does not parse cleanly:\n${[...parsed.errors, ...parsed.warnings].map((e) => e.message).join('\n')}`)
  }
  return parsed.toJS() as Json
}

const doc = loadDocument()

/** Follow a local `#/...` JSON pointer. */
function pointer(ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are expected, got ${ref}`)
  let node: unknown = doc
  for (const raw of ref.slice(2).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    if (typeof node !== 'object' || node === null || !(part in node)) throw new Error(`dangling $ref ${ref}`)
    node = (node as Json)[part]
  }
  return node
}

/** Resolve a Reference Object (response, parameter, header...), recursively. */
function deref<T>(node: T | { $ref: string }): T {
  let current: unknown = node
  while (typeof current === 'object' && current !== null && typeof (current as Json).$ref === 'string') {
    current = pointer((current as Json).$ref as string)
  }
  return current as T
}

function operations(): DocumentedOperation[] {
  const out: DocumentedOperation[] = []
  for (const [path, rawItem] of Object.entries(doc.paths as Record<string, Json>)) {
    const item = deref(rawItem)
    const shared = ((item.parameters ?? []) as Json[]).map((p) => deref(p))
    for (const method of HTTP_METHODS) {
      const op = item[method] as Operation | undefined
      if (op === undefined) continue
      out.push({
        method: method.toUpperCase(),
        path,
        fastifyPath: path.replace(/\{([^}]+)\}/g, ':$1'),
        op,
        parameters: [...shared, ...(op.parameters ?? []).map((p) => deref(p))],
      })
    }
  }
  return out
}

const documented = operations()

// ------------------------------------------------------------------ schema comparison

const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'examples', 'example', 'deprecated', 'readOnly', 'writeOnly'])
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas'])
const SCHEMA_VALUES = new Set(['items', 'additionalProperties', 'not', 'contains', 'propertyNames', 'if', 'then', 'else', 'unevaluatedItems', 'unevaluatedProperties'])
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems'])

/**
 * A schema reduced to its validation keywords: annotations dropped, `$ref`s inlined (siblings win, as
 * the TS spreads do). Applied to both the document and the TS objects, so the two can be compared.
 *
 * A property whose schema is only annotations (`{description}`) constrains nothing unless the same
 * object limits its other properties; there it is dropped, so the document may describe members a
 * TS schema leaves undescribed (the discovery document's `documents`) and still compare equal.
 */
function validationKeywords(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null) return schema
  const node = schema as Json
  const out: Json = typeof node.$ref === 'string' ? { ...(validationKeywords(pointer(node.$ref)) as Json) } : {}
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' || ANNOTATIONS.has(k)) continue
    if (SCHEMA_MAPS.has(k)) out[k] = Object.fromEntries(Object.entries(v as Json).map(([name, s]) => [name, validationKeywords(s)]))
    else if (SCHEMA_VALUES.has(k)) out[k] = validationKeywords(v)
    else if (SCHEMA_LISTS.has(k)) out[k] = (v as unknown[]).map(validationKeywords)
    else out[k] = v
  }
  const limitsOthers = ['additionalProperties', 'unevaluatedProperties', 'patternProperties'].some((k) => k in out)
  if (typeof out.properties === 'object' && out.properties !== null && !limitsOthers) {
    const kept = Object.entries(out.properties as Json).filter(([, s]) => !(typeof s === 'object' && s !== null && Object.keys(s).length === 0))
    if (kept.length > 0) out.properties = Object.fromEntries(kept)
    else delete out.properties
  }
  return out
}

function componentSchema(name: string): unknown {
  const schemas = (doc.components as Json).schemas as Json
  expect(schemas, `components.schemas.${name}`).toHaveProperty(name)
  return schemas[name]
}

// ajv-formats ships CommonJS with a default export; under NodeNext it arrives wrapped (as in src/validation.ts).
const addFormats = addFormatsModule.default as unknown as (ajv: Ajv2020, formats: string[]) => Ajv2020
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }), ['date-time', 'uri'])

/** Check a value the app really sent against a documented schema ($refs inlined); returns ajv's errors. */
function schemaErrors(schema: unknown, value: unknown): string {
  const validate = ajv.compile(validationKeywords(schema) as Json)
  return validate(value) ? '' : ajv.errorsText(validate.errors)
}

// ------------------------------------------------------------------ the app (embedded store, no Redis)

const ADMIN_TOKEN = 'x'.repeat(40)
/** A known operator with no scope at all: every operator route refuses it with missing_scope. */
const NO_SCOPE_TOKEN = 'n'.repeat(40)

interface Harness {
  app: FastifyInstance
  config: Config
  close(): Promise<void>
}

async function buildTestApp(): Promise<Harness> {
  // Built as src/server.ts builds it; on the embedded store in a temp directory (no REDIS_URL given).
  return testApp({
    LOG_LEVEL: 'silent',
    // The default, spelled out: GET /metrics is documented on the main port.
    MECHA_METRICS: 'on',
    MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({
      [ADMIN_TOKEN]: 'alice',
      [NO_SCOPE_TOKEN]: { operator: 'nobody', scopes: [] },
    }),
  })
}

/**
 * A syntactically valid URL for a documented path. The values need not exist for the operator and
 * runtime routes; for the open ones they do: `probe-mecha` is registered, listed, before the route
 * tests, and `problem` is a published schema.
 */
function sampleUrl(path: string): string {
  // {name} is a schema name under /v1/schemas, a mode name under /v1/modes (the probe mode).
  return path.replace('{id}', 'probe-mecha').replace('{keyId}', `mk${'a'.repeat(24)}`).replace('{name}', path.startsWith('/v1/modes/') ? 'probe.v1' : 'problem')
}

/** An Ed25519 public key (the public test vector of docs/protocol.md), for the probe mecha's card. */
const PROBE_PUBLIC_KEY = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo'

/**
 * The request an open operation is probed with: no credentials; with a body, the operation's first
 * documented request example, sent with the `Accept` the MCP transport requires (POST /mcp is the
 * only open operation with a body).
 */
function openRequest(o: DocumentedOperation): InjectOptions {
  const method = o.method as HTTPMethods
  const url = sampleUrl(o.path)
  if (o.op.requestBody === undefined) return { method, url }
  const media = (deref(o.op.requestBody).content as Record<string, Json>)['application/json'] ?? {}
  const example = media.example ?? Object.values((media.examples ?? {}) as Record<string, { value: unknown }>)[0]?.value
  if (example === undefined) throw new Error(`${label(o)} documents no request example`)
  return { method, url, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, payload: JSON.stringify(example) }
}

// ------------------------------------------------------------------ expectations

/**
 * The contract each operation is held to: names clients depend on, scope, and `success`, the status a
 * well-formed request gets (for GET and DELETE /mcp that is 405: on a stateless MCP server the
 * transport answers nothing else).
 */
const EXPECTED: Record<string, { operationId: string; tag: string; access: 'open' | 'operator' | 'runtime'; scope?: string; success: '101' | '200' | '201' | '202' | '204' | '405' }> = {
  'GET /.well-known/mecharim': { operationId: 'getDiscoveryDocument', tag: 'discovery', access: 'open', success: '200' },
  'GET /openapi.yaml': { operationId: 'getOpenapiYaml', tag: 'discovery', access: 'open', success: '200' },
  'GET /openapi.json': { operationId: 'getOpenapiJson', tag: 'discovery', access: 'open', success: '200' },
  'GET /docs': { operationId: 'getApiReference', tag: 'discovery', access: 'open', success: '200' },
  'GET /v1/schemas': { operationId: 'listSchemas', tag: 'discovery', access: 'open', success: '200' },
  'GET /v1/schemas/{name}': { operationId: 'getSchema', tag: 'discovery', access: 'open', success: '200' },
  'GET /v1/directory/mechas': { operationId: 'listDirectory', tag: 'discovery', access: 'open', success: '200' },
  'GET /v1/directory/mechas/{id}': { operationId: 'getDirectoryCard', tag: 'discovery', access: 'open', success: '200' },
  'POST /mcp': { operationId: 'callMcp', tag: 'discovery', access: 'open', success: '200' },
  'GET /mcp': { operationId: 'openMcpStream', tag: 'discovery', access: 'open', success: '405' },
  'DELETE /mcp': { operationId: 'endMcpSession', tag: 'discovery', access: 'open', success: '405' },
  'GET /healthz': { operationId: 'healthz', tag: 'health', access: 'open', success: '200' },
  'GET /readyz': { operationId: 'readyz', tag: 'health', access: 'open', success: '200' },
  'GET /metrics': { operationId: 'metrics', tag: 'health', access: 'open', success: '200' },
  'POST /v1/mechas': { operationId: 'createMecha', tag: 'mechas', access: 'operator', scope: 'keys:write', success: '201' },
  'GET /v1/mechas': { operationId: 'listMechas', tag: 'mechas', access: 'operator', scope: 'keys:read', success: '200' },
  'GET /v1/mechas/{id}': { operationId: 'getMecha', tag: 'mechas', access: 'operator', scope: 'keys:read', success: '200' },
  'PATCH /v1/mechas/{id}': { operationId: 'updateMecha', tag: 'mechas', access: 'operator', scope: 'keys:write', success: '200' },
  'DELETE /v1/mechas/{id}': { operationId: 'deactivateMecha', tag: 'mechas', access: 'operator', scope: 'keys:write', success: '200' },
  'POST /v1/mechas/{id}/keys': { operationId: 'issueKey', tag: 'keys', access: 'operator', scope: 'keys:write', success: '201' },
  'GET /v1/mechas/{id}/keys': { operationId: 'listMechaKeys', tag: 'keys', access: 'operator', scope: 'keys:read', success: '200' },
  'GET /v1/mechas/{id}/dead-letters': { operationId: 'listMechaDeadLetters', tag: 'mechas', access: 'operator', scope: 'keys:read', success: '200' },
  'POST /v1/mechas/{id}/dead-letters/redrive': { operationId: 'redriveMechaDeadLetters', tag: 'mechas', access: 'operator', scope: 'keys:write', success: '200' },
  'GET /v1/keys/{keyId}': { operationId: 'getKey', tag: 'keys', access: 'operator', scope: 'keys:read', success: '200' },
  'PATCH /v1/keys/{keyId}': { operationId: 'updateKey', tag: 'keys', access: 'operator', scope: 'keys:write', success: '200' },
  'POST /v1/keys/{keyId}/revoke': { operationId: 'revokeKey', tag: 'keys', access: 'operator', scope: 'keys:write', success: '200' },
  'POST /v1/keys/{keyId}/rotate': { operationId: 'rotateKey', tag: 'keys', access: 'operator', scope: 'keys:write', success: '200' },
  'GET /v1/modes': { operationId: 'listModes', tag: 'modes', access: 'open', success: '200' },
  'GET /v1/modes/{name}': { operationId: 'getMode', tag: 'modes', access: 'open', success: '200' },
  'PUT /v1/modes/{name}': { operationId: 'putMode', tag: 'modes', access: 'operator', scope: 'keys:write', success: '201' },
  'DELETE /v1/modes/{name}': { operationId: 'deleteMode', tag: 'modes', access: 'operator', scope: 'keys:write', success: '204' },
  'GET /v1/audit': { operationId: 'listAuditEvents', tag: 'audit', access: 'operator', scope: 'audit:read', success: '200' },
  'POST /v1/messages': { operationId: 'sendMessage', tag: 'messages', access: 'runtime', success: '202' },
  'GET /v1/inbox': { operationId: 'readInbox', tag: 'inbox', access: 'runtime', success: '200' },
  'POST /v1/inbox/ack': { operationId: 'ackMessages', tag: 'inbox', access: 'runtime', success: '200' },
  'GET /v1/whoami': { operationId: 'whoami', tag: 'runtime', access: 'runtime', success: '200' },
  'PUT /v1/runtime/modes/{name}': { operationId: 'putRuntimeMode', tag: 'modes', access: 'runtime', success: '201' },
  'GET /v1/connect': { operationId: 'connect', tag: 'inbox', access: 'runtime', success: '101' },
  'POST /v1/sessions': { operationId: 'startSession', tag: 'sessions', access: 'runtime', success: '201' },
  'GET /v1/sessions': { operationId: 'listSessions', tag: 'sessions', access: 'runtime', success: '200' },
  'GET /v1/sessions/{id}': { operationId: 'getSession', tag: 'sessions', access: 'runtime', success: '200' },
  'POST /v1/sessions/{id}/commit': { operationId: 'commitSession', tag: 'sessions', access: 'runtime', success: '200' },
  'POST /v1/sessions/{id}/cancel': { operationId: 'cancelSession', tag: 'sessions', access: 'runtime', success: '200' },
  'POST /v1/inbox/nack': { operationId: 'nackMessages', tag: 'inbox', access: 'runtime', success: '200' },
  'POST /v1/inbox/extend': { operationId: 'extendMessages', tag: 'inbox', access: 'runtime', success: '200' },
  'POST /v1/inbox/reject': { operationId: 'rejectMessages', tag: 'inbox', access: 'runtime', success: '200' },
  'GET /v1/inbox/dead': { operationId: 'listDeadLetters', tag: 'inbox', access: 'runtime', success: '200' },
  'POST /v1/inbox/dead/redrive': { operationId: 'redriveDeadLetters', tag: 'inbox', access: 'runtime', success: '200' },
  'POST /v1/inbox/dead/purge': { operationId: 'purgeDeadLetters', tag: 'inbox', access: 'runtime', success: '200' },
}

/** Every runtime route runs the same credential steps (src/gateway/pipeline.ts) and claims a nonce. */
const CREDENTIAL_REASONS: Reason[] = [
  'missing_credentials', 'malformed_credentials', 'invalid_key', 'stale_timestamp', 'replayed_nonce', 'bad_signature', 'signature_required',
]
/** Routes with a body also check Content-Digest on signed requests, and parse the body. */
const BODY_REASONS: Reason[] = ['bad_digest', 'invalid_request', 'malformed_json', 'body_too_large', 'unsupported_media_type']

/** The refusals each runtime operation must name in its description, exactly: what its steps and hand-off can produce. */
const RUNTIME_REFUSALS: Record<string, Reason[]> = {
  'POST /v1/messages': [
    ...CREDENTIAL_REASONS, ...BODY_REASONS, 'invalid_id', 'sender_mismatch', 'recipient_not_allowed', 'kind_not_allowed', 'unknown_recipient',
    'message_too_large', 'idempotency_key_reused', 'inbox_full', 'sender_share_exceeded', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable', 'transport_unavailable',
    'storage_full', 'unknown_session', 'not_a_participant', 'session_closed', 'kind_not_in_mode',
  ],
  'GET /v1/inbox': [...CREDENTIAL_REASONS, 'invalid_request', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable', 'transport_unavailable'],
  'POST /v1/inbox/ack': [...CREDENTIAL_REASONS, ...BODY_REASONS, 'rate_limited', 'store_unavailable', 'replay_cache_unavailable', 'transport_unavailable'],
  'GET /v1/whoami': [...CREDENTIAL_REASONS, 'rate_limited', 'store_unavailable', 'replay_cache_unavailable'],
  'PUT /v1/runtime/modes/{name}': [
    ...CREDENTIAL_REASONS, ...BODY_REASONS, 'invalid_id', 'cannot_manage_modes', 'concurrent_update', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable',
  ],
  'GET /v1/connect': [...CREDENTIAL_REASONS, 'upgrade_required', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable'],
  'POST /v1/sessions': [
    ...CREDENTIAL_REASONS, ...BODY_REASONS, 'cannot_start_sessions', 'mode_not_allowed', 'recipient_not_allowed', 'kind_not_allowed', 'unknown_mode', 'unknown_recipient',
    'too_many_open_sessions', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable', 'transport_unavailable',
  ],
  'GET /v1/sessions': [...CREDENTIAL_REASONS, 'invalid_request', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable'],
  'GET /v1/sessions/{id}': [...CREDENTIAL_REASONS, 'invalid_id', 'unknown_session', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable'],
  'POST /v1/sessions/{id}/commit': [
    ...CREDENTIAL_REASONS, ...BODY_REASONS, 'invalid_id', 'not_session_initiator', 'unknown_session', 'session_closed', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable', 'transport_unavailable',
  ],
  'POST /v1/sessions/{id}/cancel': [
    ...CREDENTIAL_REASONS, ...BODY_REASONS, 'invalid_id', 'not_session_initiator', 'unknown_session', 'session_closed', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable', 'transport_unavailable',
  ],
  ...Object.fromEntries(['nack', 'extend', 'reject', 'dead/redrive', 'dead/purge'].map((route) =>
    [`POST /v1/inbox/${route}`, [...CREDENTIAL_REASONS, ...BODY_REASONS, 'rate_limited', 'store_unavailable', 'replay_cache_unavailable', 'transport_unavailable']])),
  'GET /v1/inbox/dead': [...CREDENTIAL_REASONS, 'invalid_request', 'rate_limited', 'store_unavailable', 'replay_cache_unavailable', 'transport_unavailable'],
}

/** The credential headers of profile mecha-v1, as reusable components.parameters. */
const CREDENTIAL_PARAMETERS = {
  MechaTimestamp: { name: 'Mecha-Timestamp', required: true },
  MechaNonce: { name: 'Mecha-Nonce', required: true },
  SignatureInput: { name: 'Signature-Input', required: false },
  Signature: { name: 'Signature', required: false },
} as const

/**
 * The `**Refusals:**` paragraph of an operation description, read as status -> reasons: every catalogue
 * reason named after a backquoted status belongs to it.
 */
function documentedRefusals(description: string): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>()
  const start = description.indexOf('**Refusals')
  if (start === -1) return out
  const end = description.indexOf('\n\n', start)
  const parts = description.slice(start, end === -1 ? undefined : end).split(/`(\d{3})`/)
  for (let i = 1; i < parts.length; i += 2) {
    const status = Number(parts[i])
    const reasons = out.get(status) ?? new Set<string>()
    for (const word of parts[i + 1]?.match(/\b[a-z][a-z_]+\b/g) ?? []) if (isReason(word)) reasons.add(word)
    out.set(status, reasons)
  }
  return out
}

const label = (o: DocumentedOperation): string => `${o.method} ${o.path}`
/** Prose with its line breaks folded, for phrase checks. */
const flat = (text: unknown): string => String(text).replace(/\s+/g, ' ')

// ------------------------------------------------------------------ tests

describe('openapi.yaml: document shape', () => {
  it('is OpenAPI 3.1.x describing Mecharim 0.1.0', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/)
    expect(doc.info).toMatchObject({ title: 'Mecharim', version: '0.1.0' })
    const description = flat((doc.info as Json).description)
    expect(description).toContain('let discovery explain, let runtime authenticate')
    // The three access classes, and the rule that discovery never grants action.
    for (const access of ['open', 'operator', 'runtime']) expect(description).toContain(`**\`${access}\`:`)
    expect(description).toContain('Discovery never grants action')
    expect(doc.servers).toEqual([expect.objectContaining({ url: 'http://127.0.0.1:8080' })])
  })

  it('documents exactly the expected operations, with unique operationIds', () => {
    expect(documented.map(label).sort()).toEqual(Object.keys(EXPECTED).sort())
    const ids = documented.map((o) => o.op.operationId)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('gives every operation an operationId, declared tags, summary, description and responses', () => {
    const declaredTags = new Set(((doc.tags ?? []) as Json[]).map((t) => t.name))
    for (const o of documented) {
      const expected = EXPECTED[label(o)]
      expect(o.op.operationId, label(o)).toBe(expected?.operationId)
      expect(o.op.operationId, label(o)).toMatch(/^[a-z][A-Za-z0-9]*$/)
      expect(o.op.tags, label(o)).toEqual([expected?.tag])
      for (const tag of o.op.tags ?? []) expect(declaredTags.has(tag), `${label(o)} tag ${tag} is declared`).toBe(true)
      expect(o.op.summary, label(o)).toEqual(expect.any(String))
      expect(o.op.description, label(o)).toEqual(expect.any(String))
      expect(Object.keys(o.op.responses ?? {}).length, label(o)).toBeGreaterThan(0)
    }
  })

  it('classifies access: operatorToken with a scope on the control plane, mechaKey or mechaSignature on the runtime routes, open elsewhere', () => {
    const schemes = (doc.components as Json).securitySchemes as Json
    expect(schemes.operatorToken).toMatchObject({ type: 'http', scheme: 'bearer' })
    // apiKey: Swagger UI (/docs) supports no http scheme but basic and bearer.
    expect(schemes.mechaKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'Authorization' })
    expect(schemes.mechaSignature).toMatchObject({ type: 'apiKey', in: 'header', name: 'Signature' })
    for (const scope of OPERATOR_SCOPES) expect(String((schemes.operatorToken as Json).description)).toContain(scope)

    for (const o of documented) {
      const expected = EXPECTED[label(o)]
      expect(o.op['x-mecharim-access'], label(o)).toBe(expected?.access)
      if (expected?.access === 'runtime') {
        // Either credential: a Mecha token, a mecha-v1 signature, or both (two alternatives, not one AND).
        expect(o.op.security, label(o)).toEqual([{ mechaKey: [] }, { mechaSignature: [] }])
        expect(o.op['x-mecharim-scope'], label(o)).toBeUndefined()
        expect(o.op.description, `${label(o)} names its access`).toContain('`x-mecharim-access: runtime`')
      } else if (expected?.access === 'operator') {
        expect(o.path, label(o)).toMatch(/^\/v1\//)
        expect(o.op.security, label(o)).toEqual([{ operatorToken: [] }])
        expect(o.op['x-mecharim-scope'], label(o)).toBe(expected.scope)
        expect(OPERATOR_SCOPES as readonly string[]).toContain(o.op['x-mecharim-scope'])
        expect(o.op.description, `${label(o)} names its scope`).toContain(`\`${o.op['x-mecharim-scope']}\``)
      } else {
        // Open: no credentials at all, so no scope either.
        expect(expected?.access, label(o)).toBe('open')
        expect(o.op.security, label(o)).toEqual([])
        expect(o.op['x-mecharim-scope'], label(o)).toBeUndefined()
        expect(o.op.description, `${label(o)} names its access`).toContain('`x-mecharim-access: open`')
      }
    }
  })

  it('documents the statuses each operation can produce', () => {
    for (const o of documented) {
      const statuses = Object.keys(o.op.responses ?? {})
      const expected = EXPECTED[label(o)]
      expect(statuses, label(o)).toContain(expected?.success)
      expect(statuses, label(o)).toContain('503')
      // 429: a client address over the failed-authentication limit, on both; the key's rate limit, on runtime routes.
      if (expected?.access === 'operator') expect(statuses, label(o)).toEqual(expect.arrayContaining(['401', '403', '429', '500']))
      if (expected?.access === 'runtime') expect(statuses, label(o)).toEqual(expect.arrayContaining(['401', '429', '500']))
      if (statuses.includes('429')) {
        const tooMany = deref(o.op.responses?.['429'] ?? {})
        expect(deref(((tooMany.headers ?? {}) as Json)['Retry-After'] as Json).schema, `${label(o)} 429 Retry-After`).toMatchObject({ type: 'integer' })
      }
      // What the route validates can be malformed: a query, a body, a path parameter with a pattern (the
      // open routes take any path value and answer 404 for one they do not know). Credential headers
      // are refused with 401 (malformed_credentials), not 400: they do not count here.
      const validated = o.parameters.some((p) => p.in === 'query' || (p.in === 'path' && (validationKeywords(p.schema) as Json).pattern !== undefined))
      if (validated || o.op.requestBody !== undefined) expect(statuses, label(o)).toContain('400')
      if (o.parameters.some((p) => p.in === 'path')) expect(statuses, label(o)).toContain('404')
      // Open routes but the health probes count requests per address (MECHA_OPEN_RATE_LIMIT).
      if (expected?.access === 'open') {
        const probe = surfaceOf(o.method, o.path.replace(/\{([A-Za-z]+)\}/g, ':$1'))?.probe === true
        expect(statuses.includes('429'), `${label(o)} 429`).toBe(!probe)
        if (!probe) expect(o.op.responses?.['429'], label(o)).toEqual({ $ref: '#/components/responses/OpenRateLimited' })
      }
      // Fastify parses a body on every method but GET/HEAD, whatever the route expects, except where
      // a route's context has no parser (DELETE /mcp reads no body).
      if (o.op.requestBody !== undefined || (o.method !== 'GET' && o.method !== 'HEAD' && label(o) !== 'DELETE /mcp')) {
        expect(statuses, label(o)).toEqual(expect.arrayContaining(['413', '415']))
      }
      if (o.op.requestBody !== undefined) {
        expect(Object.keys((deref(o.op.requestBody).content ?? {}) as Json), label(o)).toEqual(['application/json'])
      }
    }
  })

  it('announces Location on 201 and Cache-Control: no-store where secrets are shown', () => {
    for (const o of documented) {
      const responses = o.op.responses ?? {}
      const success = deref(responses['201'] ?? responses['200'] ?? {})
      const headers = (success.headers ?? {}) as Json
      if (responses['201'] !== undefined) expect(Object.keys(headers), label(o)).toContain('Location')
      const carriesSecrets = JSON.stringify(success).includes('#/components/schemas/KeyIssueResponse')
      expect(carriesSecrets, label(o)).toBe(o.op.operationId === 'issueKey' || o.op.operationId === 'rotateKey')
      if (carriesSecrets) {
        expect(deref(headers['Cache-Control'] as Json).schema, label(o)).toMatchObject({ const: 'no-store' })
      }
    }
  })

  it('names in each description only refusals the operation documents, with their catalogue status', () => {
    for (const o of documented) {
      const statuses = Object.keys(o.op.responses ?? {})
      for (const [status, reasons] of documentedRefusals(o.op.description ?? '')) {
        expect(statuses, `${label(o)} documents ${status}`).toContain(String(status))
        for (const reason of reasons) expect(CATALOGUE[reason as Reason].status, `${label(o)} ${reason}`).toBe(status)
      }
    }
  })

  it('renders every refusal as application/problem+json with a Problem schema', () => {
    for (const o of documented) {
      for (const [status, raw] of Object.entries(o.op.responses ?? {})) {
        if (!status.startsWith('4') && !status.startsWith('5')) continue
        const where = `${label(o)} ${status}`
        const content = (deref(raw).content ?? {}) as Record<string, { schema?: { $ref?: string; allOf?: { $ref?: string }[] } }>
        expect(Object.keys(content).length, where).toBeGreaterThan(0)
        // Only two answers are not problem+json at all: the HTTP framework's own 503 while shutting
        // down, and the MCP transport's own JSON-RPC errors on /mcp.
        if (!('application/problem+json' in content)) expect(status === '503' || o.path === '/mcp', where).toBe(true)
        for (const [type, media] of Object.entries(content)) {
          // A problem with extension members (readiness `checks`) extends Problem with allOf.
          const ref = media.schema?.$ref ?? media.schema?.allOf?.[0]?.$ref
          if (type === 'application/problem+json') {
            expect(ref, where).toBe('#/components/schemas/Problem')
          } else {
            expect(type, where).toBe('application/json')
            expect(ref, where).toBe(o.path === '/mcp' && status !== '503' ? '#/components/schemas/JsonRpcError' : '#/components/schemas/ShutdownBody')
          }
        }
      }
    }
  })

  it('names what the discovery surfaces serve as the server has it', () => {
    const description = (l: string): string => flat(documented.find((o) => label(o) === l)?.op.description)
    // Schema names are free text in the path, but the description lists the published ones.
    const getSchema = description('GET /v1/schemas/{name}')
    for (const name of schemaNames()) expect(getSchema, name).toContain(`\`${name}\``)
    const mcp = description('POST /mcp')
    for (const tool of TOOL_NAMES) expect(mcp, tool).toContain(`\`${tool}\``)
    for (const resource of ['mecharim://schemas/{name}', 'mecharim://docs/protocol.md', 'mecharim://.well-known/mecharim', 'mecharim://openapi.yaml']) {
      expect(mcp, resource).toContain(`\`${resource}\``)
    }
    const docs = description('GET /docs')
    for (const asset of ['/docs/json', '/docs/yaml', '/docs/static/']) expect(docs, asset).toContain(`\`${asset}\``)
    expect(description('GET /v1/directory/mechas/{id}')).toContain('An unlisted mecha, a deactivated one, one that does not exist')
    expect(description('GET /metrics')).toContain('`MECHA_METRICS`')
  })
})

describe('openapi.yaml: the runtime gateway', () => {
  const runtimeOps = (): DocumentedOperation[] => documented.filter((o) => o.op['x-mecharim-access'] === 'runtime')

  it('documents the runtime routes and only those as runtime', () => {
    expect(runtimeOps().map(label).sort()).toEqual(Object.keys(RUNTIME_REFUSALS).sort())
  })

  it('lists exactly the refusals each runtime operation can produce, with an example of each', () => {
    for (const o of runtimeOps()) {
      const refusals = documentedRefusals(o.op.description ?? '')
      const named = [...refusals.values()].flatMap((reasons) => [...reasons])
      expect(new Set(named), label(o)).toEqual(new Set(RUNTIME_REFUSALS[label(o)]))
      for (const [status, reasons] of refusals) {
        if (status === 400 || status === 415) continue // shared responses, whose examples are illustrations
        const response = deref((o.op.responses ?? {})[String(status)] ?? {})
        const examples = (((response.content as Json | undefined)?.['application/problem+json'] as Json | undefined)?.examples ?? {}) as Record<string, { value: Json }>
        const exampleReasons = Object.values(examples).map((e) => e.value.reason)
        for (const reason of reasons) expect(exampleReasons, `${label(o)} ${status} has an example of ${reason}`).toContain(reason)
      }
    }
  })

  it('takes the credential headers as reusable parameters on every runtime operation', () => {
    const parameters = (doc.components as Json).parameters as Record<string, Json>
    for (const o of runtimeOps()) {
      const refs = (o.op.parameters ?? []).map((p) => (p as { $ref?: string }).$ref)
      const expected = {
        ...CREDENTIAL_PARAMETERS, ...(o.op.requestBody !== undefined ? { ContentDigest: { name: 'Content-Digest', required: false } } : {}),
        // The sender's idempotency key (IETF httpapi draft), on the one route that stores something.
        ...(label(o) === 'POST /v1/messages' ? { IdempotencyKey: { name: 'Idempotency-Key', required: false } } : {}),
        // First-frame authentication (browsers): the subprotocol in place of credential headers.
        ...(label(o) === 'GET /v1/connect' ? { SecWebSocketProtocol: { name: 'Sec-WebSocket-Protocol', required: false } } : {}),
      }
      for (const [component, { name, required }] of Object.entries(expected)) {
        expect(refs, `${label(o)} ${name}`).toContain(`#/components/parameters/${component}`)
        expect(parameters[component], component).toMatchObject({ name, in: 'header', required })
      }
      const headers = o.parameters.filter((p) => p.in === 'header').map((p) => p.name)
      expect(headers.sort(), label(o)).toEqual(Object.values(expected).map((p) => p.name).sort())
    }
    // The syntax parse-credentials.ts accepts.
    expect(parameters.MechaTimestamp?.schema).toEqual({ type: 'string', pattern: '^[0-9]{1,15}$' })
    expect(parameters.MechaNonce?.schema).toEqual({ type: 'string', pattern: '^[A-Za-z0-9_-]{22,128}$' })
    const window = VARIABLES.find((v) => v.name === 'MECHA_TIMESTAMP_WINDOW_SECONDS')
    expect(flat(parameters.MechaTimestamp?.description)).toContain(`\`MECHA_TIMESTAMP_WINDOW_SECONDS\` (default ${String(window?.default)})`)
  })

  it('describes both runtime security schemes as the gateway implements them', () => {
    const schemes = (doc.components as Json).securitySchemes as Record<string, Json>
    const key = flat(schemes.mechaKey?.description)
    expect(key).toContain('`Authorization: Mecha <token>`')
    expect(key).toContain('`Authorization: Bearer <token>`')
    const signature = flat(schemes.mechaSignature?.description)
    for (const needle of [`profile \`${MECHA_TAG}\``, `Label \`${MECHA_LABEL}\``, '`MECHA_PUBLIC_URL`', '`@authority`', '`signature.algorithms`']) {
      expect(signature).toContain(needle)
    }
    for (const component of [...MECHA_COMPONENTS, ...MECHA_BODY_COMPONENTS]) expect(signature).toContain(`"${component}"`)
    for (const alg of MECHA_ALGORITHMS) expect(signature).toContain(`\`${alg}\``)
  })

  it('announces the runtime response headers', () => {
    const op = (l: string): Operation => {
      const found = documented.find((o) => label(o) === l)
      if (found === undefined) throw new Error(`${l} is not documented`)
      return found.op
    }
    const headersOf = (l: string, status: string): Json => (deref(op(l).responses?.[status] ?? {}).headers ?? {}) as Json
    expect(deref(headersOf('POST /v1/messages', '202')['Mecha-Idempotent-Replay'] as Json).schema).toEqual({ type: 'string', const: 'true' })
    expect(deref(headersOf('POST /v1/messages', '429')['Retry-After'] as Json).schema).toMatchObject({ type: 'integer' })
    for (const o of runtimeOps()) {
      expect(deref(headersOf(label(o), '401')['Mecha-Server-Time'] as Json).schema, label(o)).toEqual({ type: 'integer' })
    }
    expect(Object.keys(headersOf('GET /v1/connect', '101')).sort()).toEqual(['Connection', 'Sec-WebSocket-Accept', 'Sec-WebSocket-Protocol', 'Upgrade'])
  })

  it('describes the WebSocket frames of GET /v1/connect', () => {
    const connect = documented.find((o) => label(o) === 'GET /v1/connect')
    const ws = connect?.op['x-mecharim-websocket'] as { maxClientFrameBytes: number; serverFrames: Json; clientFrames: Json } | undefined
    expect(ws?.maxClientFrameBytes).toBe(MAX_CLIENT_FRAME_BYTES)
    expect(Object.keys(ws?.serverFrames ?? {}).sort()).toEqual(['acked', 'challenge', 'closing', 'error', 'message', 'ready'])
    expect(Object.keys(ws?.clientFrames ?? {})).toEqual(['authenticate', 'ack'])
    const description = flat(connect?.op.description)
    expect(description).toContain(`larger than 64 KiB (${MAX_CLIENT_FRAME_BYTES} bytes) closes the connection with code 1009`)
    for (const frame of [...Object.keys(ws?.serverFrames ?? {}), ...Object.keys(ws?.clientFrames ?? {})]) expect(description).toContain(`{"type":"${frame}"`)
    expect(description).toContain('{"type":"ack","ids":[')
    // The message frame carries the same Message as GET /v1/inbox.
    expect(JSON.stringify(ws?.serverFrames.message)).toContain('#/components/schemas/Message"')
  })

  it('states configuration defaults as src/config/schema.ts has them', () => {
    const text = readFileSync(OPENAPI_FILE, 'utf8')
    const names = new Set<string>(VARIABLES.map((v) => v.name))
    for (const [, name] of text.matchAll(/\b(MECHA_[A-Z_]+)\b/g)) expect(names, `${String(name)} is a configuration variable`).toContain(name)
    let seen = 0
    for (const [, name, value, unit] of text.matchAll(/`(MECHA_[A-Z_]+)`,? \(?default (\d+(?:\.\d+)?)( MiB)?/g)) {
      const bytes = Number(value) * (unit === ' MiB' ? 1024 * 1024 : 1)
      expect(String(bytes), `${String(name)} default`).toBe(VARIABLES.find((v) => v.name === name)?.default)
      seen++
    }
    expect(seen).toBeGreaterThanOrEqual(5)
  })
})

describe('openapi.yaml: single source of truth', () => {
  it.each([
    ['MechaCreateRequest', mechaCreateRequest],
    ['MechaUpdateRequest', mechaUpdateRequest],
    ['Mecha', mecha],
    ['KeyIssueRequest', keyIssueRequest],
    ['KeyUpdateRequest', keyUpdateRequest],
    ['KeyRotateRequest', keyRotateRequest],
    ['Key', key],
    ['KeyIssueResponse', keyIssueResponse],
    ['AuditEvent', auditEvent],
    ['MessageRequest', messageRequest],
    ['Message', message],
    ['MessageAccepted', messageAccepted],
    ['AckRequest', ackRequest],
    ['DiscoveryDocument', discoveryDocument],
    ['DirectoryCard', directoryCard],
    ['ModePutRequest', modePutRequest],
    ['Mode', mode],
    ['SessionStartRequest', sessionStartRequest],
    ['SessionCommitRequest', sessionCommitRequest],
    ['SessionCancelRequest', sessionCancelRequest],
    ['Session', session],
  ])('components.schemas.%s matches the TS schema', (name, schema) => {
    expect(validationKeywords(componentSchema(name))).toEqual(validationKeywords(schema))
  })

  it('uses the route schemas for path and query parameters', () => {
    const byName = (o: DocumentedOperation, name: string): Json | undefined => o.parameters.find((p) => p.name === name)
    for (const o of documented) {
      for (const p of o.parameters) {
        if (p.in === 'path') expect(o.path, `${label(o)} ${String(p.name)}`).toContain(`{${String(p.name)}}`)
      }
      for (const name of o.path.match(/\{([^}]+)\}/g)?.map((s) => s.slice(1, -1)) ?? []) {
        const param = byName(o, name)
        expect(param, `${label(o)} documents {${name}}`).toMatchObject({ in: 'path', required: true })
        // The open routes validate no path parameter: any string reaches them, and they answer 404 for
        // a schema name or mecha id they do not publish.
        const routeSchema = o.op['x-mecharim-access'] === 'open' ? { type: 'string' } : name === 'keyId' ? keyId : name === 'name' ? modeName
          : o.path.startsWith('/v1/sessions/') ? sessionId : mechaId
        expect(validationKeywords(param?.schema), `${label(o)} {${name}}`).toEqual(validationKeywords(routeSchema))
      }
    }
    // The directory's query, as src/discovery/directory.ts declares it.
    const listDirectory = documented.find((o) => o.op.operationId === 'listDirectory')
    expect(listDirectory?.parameters.map((p) => [p.name, p.in])).toEqual([['after', 'query']])
    expect(validationKeywords(listDirectory?.parameters[0]?.schema)).toEqual({ type: 'string', maxLength: 64 })
    const limit = { type: 'integer', minimum: 1, maximum: 500, default: 100 }
    const listMechas = documented.find((o) => o.op.operationId === 'listMechas')
    const listAudit = documented.find((o) => o.op.operationId === 'listAuditEvents')
    if (listMechas === undefined || listAudit === undefined) throw new Error('list operations missing')
    expect(listMechas.parameters.map((p) => p.name).sort()).toEqual(['after', 'limit'])
    expect(validationKeywords(byName(listMechas, 'limit')?.schema)).toEqual(limit)
    expect(validationKeywords(byName(listMechas, 'after')?.schema)).toEqual(validationKeywords(mechaId))
    expect(listAudit.parameters.map((p) => p.name).sort()).toEqual(['before', 'limit', 'type'])
    expect(validationKeywords(byName(listAudit, 'limit')?.schema)).toEqual(limit)
    expect(validationKeywords(byName(listAudit, 'before')?.schema)).toEqual({ type: 'string', maxLength: 26 })
    expect(validationKeywords(byName(listAudit, 'type')?.schema)).toEqual({ type: 'string', enum: [...AUDIT_TYPES] })
    for (const p of [...listMechas.parameters, ...listAudit.parameters]) expect(p.in).toBe('query')
    const readInbox = documented.find((o) => o.op.operationId === 'readInbox')
    if (readInbox === undefined) throw new Error('readInbox missing')
    const inboxParams = readInbox.parameters.filter((p) => p.in === 'query')
    expect(inboxParams.map((p) => p.name).sort()).toEqual(Object.keys(inboxQuery.properties).sort())
    for (const p of inboxParams) {
      expect(validationKeywords(p.schema), `readInbox ${String(p.name)}`).toEqual(validationKeywords(inboxQuery.properties[p.name as keyof typeof inboxQuery.properties]))
    }
    // The session listing's query, as src/schemas/sessions.ts declares it.
    const listSessions = documented.find((o) => o.op.operationId === 'listSessions')
    if (listSessions === undefined) throw new Error('listSessions missing')
    const sessionParams = listSessions.parameters.filter((p) => p.in === 'query')
    expect(sessionParams.map((p) => p.name).sort()).toEqual(Object.keys(sessionListQuery.properties).sort())
    for (const p of sessionParams) {
      expect(validationKeywords(p.schema), `listSessions ${String(p.name)}`).toEqual(validationKeywords(sessionListQuery.properties[p.name as keyof typeof sessionListQuery.properties]))
    }
  })

  it('lists every catalogue reason and code in the Problem schema', () => {
    const problem = componentSchema('Problem') as { properties: Record<string, Json>; additionalProperties?: unknown }
    expect([...(problem.properties.reason?.enum as string[])].sort()).toEqual(Object.keys(CATALOGUE).sort())
    expect([...(problem.properties.code?.enum as string[])].sort()).toEqual(Object.keys(ERROR_CODES).sort())
    expect(problem.additionalProperties).not.toBe(false)
  })

  it('gives problem examples that the service would actually send', () => {
    const responses = (doc.components as Json).responses as Record<string, Json>
    let seen = 0
    for (const [name, response] of Object.entries(responses)) {
      const examples = ((response.content as Json | undefined)?.['application/problem+json'] as Json | undefined)?.examples as Record<string, { value: Json }> | undefined
      for (const [exampleName, { value }] of Object.entries(examples ?? {})) {
        const where = `${name}.${exampleName}`
        const reason = String(value.reason)
        expect(isReason(reason), `${where} reason`).toBe(true)
        if (!isReason(reason)) continue
        const entry = CATALOGUE[reason]
        expect(value, where).toMatchObject({ type: problemType(reason), title: entry.meaning, status: entry.status, code: entry.code })
        expect(value.request_id, where).toMatch(/^req_[0-9a-f]{32}$/)
        seen++
      }
    }
    expect(seen).toBeGreaterThan(0)
    const statusOf = (name: string): number[] => Object.values(((responses[name]?.content as Json)['application/problem+json'] as Json).examples as Record<string, { value: Json }>).map((e) => e.value.status as number)
    expect(new Set(statusOf('InvalidArgument'))).toEqual(new Set([400]))
    expect(new Set(statusOf('Unauthenticated'))).toEqual(new Set([401]))
    expect(new Set(statusOf('Forbidden'))).toEqual(new Set([403]))
    expect(new Set(statusOf('NotFound'))).toEqual(new Set([404]))
    expect(new Set(statusOf('Conflict'))).toEqual(new Set([409]))
    expect(new Set(statusOf('PayloadTooLarge'))).toEqual(new Set([413]))
    expect(new Set(statusOf('UnsupportedMediaType'))).toEqual(new Set([415]))
    expect(new Set(statusOf('Unavailable'))).toEqual(new Set([503]))
    expect(new Set(statusOf('RuntimeUnauthenticated'))).toEqual(new Set([401]))
    expect(new Set(statusOf('RuntimeForbidden'))).toEqual(new Set([403]))
    expect(new Set(statusOf('UnknownRecipient'))).toEqual(new Set([404]))
    expect(new Set(statusOf('MessageTooLarge'))).toEqual(new Set([413]))
    expect(new Set(statusOf('MessageTooManyRequests'))).toEqual(new Set([429]))
    expect(new Set(statusOf('RateLimited'))).toEqual(new Set([429]))
    expect(new Set(statusOf('RuntimeRateLimited'))).toEqual(new Set([429]))
    expect(new Set(statusOf('RuntimeUnavailable'))).toEqual(new Set([503]))
    expect(new Set(statusOf('MessageUnavailable'))).toEqual(new Set([503]))
  })
})

describe('openapi.yaml: the routes the app registers', () => {
  let harness: Harness

  beforeAll(async () => {
    harness = await buildTestApp()
    // The mecha the open directory routes are probed with: listed, with an active key that has an
    // Ed25519 public key, so its card carries one.
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
    const created = await harness.app.inject({ method: 'POST', url: '/v1/mechas', headers: auth, payload: { id: 'probe-mecha', listed: true, accepts: ['task.*'] } })
    expect(created.statusCode, created.body).toBe(201)
    const issued = await harness.app.inject({
      method: 'POST', url: '/v1/mechas/probe-mecha/keys', headers: auth,
      payload: { signature: { algorithms: ['ed25519'] }, public_keys: [PROBE_PUBLIC_KEY] },
    })
    expect(issued.statusCode, issued.body).toBe(201)
    // The mode the open mode routes are probed with.
    const put = await harness.app.inject({ method: 'PUT', url: '/v1/modes/probe.v1', headers: auth, payload: { kinds: ['probe.ping'], version: 1 } })
    expect(put.statusCode, put.body).toBe(201)
  })

  afterAll(async () => {
    await harness?.close()
  })

  it('has a registered route for every documented operation', () => {
    for (const o of documented) {
      expect(harness.app.hasRoute({ method: o.method as HTTPMethods, url: o.fastifyPath }), label(o)).toBe(true)
    }
  })

  it('documents every registered route with its access class (HEAD and the /docs assets aside)', () => {
    // Every route the app registered, with the access class src/surfaces.ts gave it (app.ts records
    // them as they are registered, and refuses to start on a route the list does not classify).
    const registered = harness.app.classifiedRoutes
    const name = (r: { method: string; url: string }): string => `${r.method} ${r.url}`
    expect(registered.map(name)).toContain('GET /healthz')
    for (const r of registered) expect(harness.app.hasRoute({ method: r.method as HTTPMethods, url: r.url }), name(r)).toBe(true)
    // Fastify adds a HEAD route per GET route (per router path: `/docs` has `/docs/` too): they mirror it.
    for (const r of registered.filter((r) => r.method === 'HEAD')) {
      expect(harness.app.hasRoute({ method: 'GET', url: r.url }), `${name(r)} mirrors a GET`).toBe(true)
    }
    // Routes under /docs/ (json, yaml, static/*) are the assets of the documentation page, GET /docs,
    // which is documented: they are open GETs, not operations of the API.
    const assets = registered.filter((r) => r.url.startsWith('/docs/'))
    expect(assets.length).toBeGreaterThan(0)
    for (const r of assets) {
      expect(['GET', 'HEAD'], name(r)).toContain(r.method)
      expect(r.access, name(r)).toBe('open')
    }
    // Every other route is documented, by method and path, with the access class the server enforces.
    const operations = registered.filter((r) => r.method !== 'HEAD' && !r.url.startsWith('/docs/'))
    expect(operations.map(name).sort()).toEqual(documented.map((o) => `${o.method} ${o.fastifyPath}`).sort())
    for (const r of operations) {
      const o = documented.find((d) => d.method === r.method && d.fastifyPath === r.url)
      expect(o?.op['x-mecharim-access'], name(r)).toBe(r.access)
      expect(Object.keys(o?.op.responses ?? {}), `${name(r)} documents its statuses`).toContain(EXPECTED[`${r.method} ${o?.path ?? ''}`]?.success)
    }
  })

  it('enforces the documented access and scope on every operation', async () => {
    for (const o of documented) {
      const url = sampleUrl(o.path)
      const method = o.method as HTTPMethods
      if (o.op['x-mecharim-access'] === 'open') {
        const res = await harness.app.inject(openRequest(o))
        expect(res.statusCode, `${label(o)} without credentials: ${res.body.slice(0, 200)}`).toBe(Number(EXPECTED[label(o)]?.success))
        continue
      }
      if (o.op['x-mecharim-access'] === 'runtime') continue // below
      const anonymous = await harness.app.inject({ method, url })
      expect(anonymous.statusCode, `${label(o)} without credentials`).toBe(401)
      expect(anonymous.headers['content-type'], label(o)).toMatch(/^application\/problem\+json/)
      // Scope is checked before the body is read, so no body is needed to learn the route's scope.
      const unscoped = await harness.app.inject({ method, url, headers: { authorization: `Bearer ${NO_SCOPE_TOKEN}` } })
      expect(unscoped.statusCode, `${label(o)} with a scope-less token`).toBe(403)
      expect(unscoped.json(), label(o)).toMatchObject({
        reason: 'missing_scope',
        detail: `this route requires the ${String(o.op['x-mecharim-scope'])} scope`,
      })
    }
  })

  it('answers the documented success status for a valid request', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
    const created = await harness.app.inject({ method: 'POST', url: '/v1/mechas', headers: auth, payload: { id: 'openapi-probe' } })
    expect(created.statusCode).toBe(201)
    expect(created.headers.location).toBe('/v1/mechas/openapi-probe')
    const issued = await harness.app.inject({ method: 'POST', url: '/v1/mechas/openapi-probe/keys', headers: auth, payload: {} })
    expect(issued.statusCode).toBe(201)
    expect(issued.headers['cache-control']).toBe('no-store')
    const keyId = (issued.json() as { key: { id: string } }).key.id
    expect(issued.headers.location).toBe(`/v1/keys/${keyId}`)
    const rotated = await harness.app.inject({ method: 'POST', url: `/v1/keys/${keyId}/rotate`, headers: auth, payload: {} })
    expect(rotated.statusCode).toBe(200)
    expect(rotated.headers['cache-control']).toBe('no-store')
  })

  it('answers every open operation without credentials with the documented body and headers', async () => {
    const open = documented.filter((o) => o.op['x-mecharim-access'] === 'open')
    expect(open.length).toBeGreaterThan(10)
    for (const o of open) {
      const res = await harness.app.inject(openRequest(o))
      const status = EXPECTED[label(o)]?.success ?? ''
      const where = `${label(o)} ${status}`
      expect(String(res.statusCode), where).toBe(status)
      const response = deref(o.op.responses?.[status] ?? {})
      // The media type is a documented one; JSON bodies match the documented schema.
      const content = (response.content ?? {}) as Record<string, { schema?: unknown }>
      const type = String(res.headers['content-type']).split(';')[0]?.trim() ?? ''
      expect(Object.keys(content), where).toContain(type)
      if (type === 'application/json' || type.endsWith('+json')) expect(schemaErrors(content[type]?.schema, res.json()), where).toBe('')
      else expect(res.body.length, where).toBeGreaterThan(0)
      // Every documented header is sent, with its value when the document fixes one; Cache-Control
      // only where documented (the discovery documents are cacheable, the live answers never).
      const headers = (response.headers ?? {}) as Record<string, Json>
      for (const [header, raw] of Object.entries(headers)) {
        const value = res.headers[header.toLowerCase()]
        expect(value, `${where} ${header}`).toBeDefined()
        const fixed = (deref(raw).schema as Json | undefined)?.const
        if (fixed !== undefined) expect(value, `${where} ${header}`).toBe(fixed)
      }
      if (!('Cache-Control' in headers)) expect(res.headers['cache-control'], `${where} Cache-Control`).toBeUndefined()
    }
    // The probe mecha is listed: its card is in the directory, with its key's public key.
    const listed = await harness.app.inject({ method: 'GET', url: '/v1/directory/mechas' })
    expect(listed.json()).toMatchObject({ mechas: [{ id: 'probe-mecha', accepts: ['task.*'], public_keys: [PROBE_PUBLIC_KEY] }] })
    // An absent mecha and an unlisted one get the same documented 404.
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
    expect((await harness.app.inject({ method: 'POST', url: '/v1/mechas', headers: auth, payload: { id: 'unlisted-probe' } })).statusCode).toBe(201)
    const notFound = documented.find((o) => label(o) === 'GET /v1/directory/mechas/{id}')?.op.responses?.['404']
    const [absent, unlisted] = await Promise.all(['absent-probe', 'unlisted-probe'].map(async (id) => harness.app.inject({ method: 'GET', url: `/v1/directory/mechas/${id}` })))
    for (const res of [absent, unlisted]) {
      expect(res?.statusCode).toBe(404)
      expect(res?.json()).toMatchObject({ reason: 'mecha_not_found', detail: 'no listed mecha with this id' })
      expect(schemaErrors(((deref(notFound ?? {}).content as Json)['application/problem+json'] as Json).schema, res?.json())).toBe('')
    }
    // An unknown schema name is the documented 404 route_not_found.
    const unknownSchema = await harness.app.inject({ method: 'GET', url: '/v1/schemas/no-such-schema' })
    expect(unknownSchema.statusCode).toBe(404)
    expect(unknownSchema.json()).toMatchObject({ reason: 'route_not_found' })
  })

  it('refuses every runtime operation without credentials, and with an operator token', async () => {
    const runtime = documented.filter((o) => o.op['x-mecharim-access'] === 'runtime')
    expect(runtime).toHaveLength(Object.keys(RUNTIME_REFUSALS).length)
    for (const o of runtime) {
      // Plain requests: GET /v1/connect too is sent without upgrade headers (inject cannot upgrade), and
      // the gateway's onRequest hook refuses it before @fastify/websocket sees it.
      const method = o.method as HTTPMethods
      const cases: [string, Record<string, string>, Reason][] = [
        ['without credentials', {}, 'missing_credentials'],
        // An operator token is not a Mecha key: it does not parse as a mecha_ token, whatever the scheme.
        ['with an operator token (Bearer)', { authorization: `Bearer ${ADMIN_TOKEN}` }, 'malformed_credentials'],
        ['with an operator token (Mecha)', { authorization: `Mecha ${ADMIN_TOKEN}` }, 'malformed_credentials'],
      ]
      for (const [what, headers, reason] of cases) {
        const res = await harness.app.inject({ method, url: o.path, headers })
        expect(res.statusCode, `${label(o)} ${what}`).toBe(401)
        expect(res.headers['content-type'], `${label(o)} ${what}`).toMatch(/^application\/problem\+json/)
        expect(res.json(), `${label(o)} ${what}`).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', reason })
        expect(o.op.responses, label(o)).toHaveProperty('401')
        expect(documentedRefusals(o.op.description ?? '').get(401), label(o)).toContain(reason)
      }
    }
    const connect = runtime.find((o) => label(o) === 'GET /v1/connect')
    expect(flat(connect?.op.description)).toContain('Without credentials the answer is `401 missing_credentials`, whether or not upgrade headers are sent')
  })

  describe('with a Mecha key', () => {
    let sender: RuntimeCredentials & { mecha: string }
    let recipient: RuntimeCredentials & { mecha: string }

    /** A runtime request through inject, credentials made by the test-side signer (test/helpers/runtime.ts). */
    async function call(options: Omit<RuntimeRequestOptions, 'authority'>): Promise<{ status: number; headers: Record<string, unknown>; body: string; json(): Json }> {
      const headers = runtimeHeaders({ ...options, authority: harness.config.publicAuthority })
      const res = await harness.app.inject({ method: options.method as HTTPMethods, url: options.url, headers, ...(options.body !== undefined ? { payload: options.body } : {}) })
      return { status: res.statusCode, headers: res.headers, body: res.body, json: () => res.json() as Json }
    }

    function documentedSchema(l: string, status: string): unknown {
      const o = documented.find((d) => label(d) === l)
      return ((deref(o?.op.responses?.[status] ?? {}).content as Json)['application/json'] as Json).schema
    }

    beforeAll(async () => {
      const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
      const issue = async (id: string, body: object): Promise<RuntimeCredentials & { mecha: string }> => {
        expect((await harness.app.inject({ method: 'POST', url: '/v1/mechas', headers: auth, payload: { id } })).statusCode).toBe(201)
        const res = await harness.app.inject({ method: 'POST', url: `/v1/mechas/${id}/keys`, headers: auth, payload: body })
        expect(res.statusCode).toBe(201)
        const issued = res.json() as { key: { id: string }; token: string; signing_secret?: string }
        return { mecha: id, keyId: issued.key.id, token: issued.token, ...(issued.signing_secret !== undefined ? { signingSecret: issued.signing_secret } : {}) }
      }
      sender = await issue('openapi-sender', { signature: { algorithms: ['hmac-sha256'] } })
      recipient = await issue('openapi-recipient', {})
    })

    it('answers the documented statuses and bodies', async () => {
      const body = JSON.stringify({ to: recipient.mecha, kind: 'task.request', payload: { n: 1 } })
      const idempotent = { 'idempotency-key': '"openapi-probe-1"' }
      const accepted = await call({ method: 'POST', url: '/v1/messages', body, credentials: sender, extraHeaders: idempotent })
      expect(accepted.status, accepted.body).toBe(202)
      expect(accepted.headers['mecha-idempotent-replay']).toBeUndefined()
      expect(schemaErrors(documentedSchema('POST /v1/messages', '202'), accepted.json())).toBe('')
      // An idempotent retry: a fresh nonce, the same Idempotency-Key and body.
      const replay = await call({ method: 'POST', url: '/v1/messages', body, credentials: sender, extraHeaders: idempotent })
      expect(replay.status).toBe(202)
      expect(replay.headers['mecha-idempotent-replay']).toBe('true')
      expect(replay.json()).toEqual(accepted.json())

      const inbox = await call({ method: 'GET', url: '/v1/inbox?wait=0&limit=10', credentials: recipient })
      expect(inbox.status, inbox.body).toBe(200)
      expect(schemaErrors(documentedSchema('GET /v1/inbox', '200'), inbox.json())).toBe('')
      expect(inbox.json().messages).toEqual([expect.objectContaining({ id: accepted.json().id, from: sender.mecha, idempotency_key: 'openapi-probe-1', delivery_count: 1 })])

      const ack = await call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids: [accepted.json().id] }), credentials: recipient })
      expect(ack.status, ack.body).toBe(200)
      expect(schemaErrors(documentedSchema('POST /v1/inbox/ack', '200'), ack.json())).toBe('')
      expect(ack.json()).toEqual({ acknowledged: 1 })

      const schema = documentedSchema('GET /v1/whoami', '200')
      for (const auth of ['token', 'hmac-sha256', 'token+hmac-sha256'] as const) {
        const whoami = await call({ method: 'GET', url: '/v1/whoami', credentials: sender, auth })
        expect(whoami.status, `${auth}: ${whoami.body}`).toBe(200)
        expect(schemaErrors(schema, whoami.json()), auth).toBe('')
        // Field for field: every documented property is sent, and nothing else.
        expect(Object.keys(whoami.json()).sort(), auth).toEqual(Object.keys((validationKeywords(schema) as { properties: Json }).properties).sort())
        expect(whoami.json().verified_by, auth).toEqual({ token: auth.startsWith('token'), signature: auth.endsWith('hmac-sha256') ? 'hmac-sha256' : null })
      }
    })

    it('sends Mecha-Server-Time and server_time with stale_timestamp', async () => {
      const res = await call({ method: 'GET', url: '/v1/whoami', credentials: sender, timestamp: 1_000_000_000 })
      expect(res.status).toBe(401)
      expect(res.json()).toMatchObject({ reason: 'stale_timestamp', server_time: expect.any(Number) })
      expect(res.headers['mecha-server-time']).toBe(String(res.json().server_time))
      expect(schemaErrors(componentSchema('Problem'), res.json())).toBe('')
    })

    it('answers a plain GET /v1/connect with valid credentials with the documented 426 upgrade_required', async () => {
      const res = await call({ method: 'GET', url: '/v1/connect', credentials: recipient })
      expect(res.status).toBe(426)
      expect(res.json()).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'upgrade_required' })
      expect(schemaErrors(componentSchema('Problem'), res.json())).toBe('')
      const connect = documented.find((o) => label(o) === 'GET /v1/connect')
      expect(connect?.op.responses).toHaveProperty('426')
    })

    it('speaks the documented WebSocket frames on GET /v1/connect', async () => {
      const connect = documented.find((o) => label(o) === 'GET /v1/connect')
      const frames = connect?.op['x-mecharim-websocket'] as { serverFrames: Record<string, Json>; clientFrames: Record<string, Json> }
      await harness.app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = harness.app.server.address() as AddressInfo
      const sent = await call({ method: 'POST', url: '/v1/messages', body: JSON.stringify({ to: recipient.mecha, kind: 'task.request', payload: 'ws' }), credentials: sender })
      expect(sent.status).toBe(202)

      const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials: recipient, authority: harness.config.publicAuthority })
      const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/connect`, { headers })
      const received: Json[] = []
      let onFrame: (() => void) | undefined
      socket.on('message', (data) => {
        received.push(JSON.parse(data.toString()) as Json)
        onFrame?.()
      })
      const next = async (count: number): Promise<Json> => {
        while (received.length < count) await new Promise<void>((resolve) => { onFrame = resolve })
        return received[count - 1] as Json
      }
      try {
        const ready = await next(1)
        expect(schemaErrors(frames.serverFrames.ready, ready), JSON.stringify(ready)).toBe('')
        expect(ready).toMatchObject({ type: 'ready', mecha: recipient.mecha, key_id: recipient.keyId })
        const pushed = await next(2)
        expect(schemaErrors(frames.serverFrames.message, pushed), JSON.stringify(pushed)).toBe('')
        const ack = { type: 'ack', ids: [String((pushed.message as Json).id)] }
        expect(schemaErrors(frames.clientFrames.ack, ack)).toBe('')
        socket.send(JSON.stringify(ack))
        const acked = await next(3)
        expect(schemaErrors(frames.serverFrames.acked, acked), JSON.stringify(acked)).toBe('')
        expect(acked).toEqual({ type: 'acked', ids: ack.ids, acknowledged: 1 })
        socket.send('{"type":"nack"}')
        const error = await next(4)
        expect(schemaErrors(frames.serverFrames.error, error), JSON.stringify(error)).toBe('')
        expect(error).toMatchObject({ type: 'error', reason: 'invalid_request' })
        // Larger than the documented limit: the server closes with 1009.
        const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
        socket.send('x'.repeat(MAX_CLIENT_FRAME_BYTES + 1))
        expect(await closed).toBe(1009)
      } finally {
        socket.terminate()
      }
    })

    it('speaks the documented first-frame authentication on GET /v1/connect', async () => {
      const connect = documented.find((o) => label(o) === 'GET /v1/connect')
      const frames = connect?.op['x-mecharim-websocket'] as { serverFrames: Record<string, Json>; clientFrames: Record<string, Json> }
      if (!harness.app.server.listening) await harness.app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = harness.app.server.address() as AddressInfo
      const open = async (): Promise<{ socket: WebSocket; next(): Promise<Json>; closed: Promise<number> }> => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/connect`, 'mecha.frame-auth')
        const received: Json[] = []
        let wake: (() => void) | undefined
        socket.on('message', (data) => {
          received.push(JSON.parse(data.toString()) as Json)
          wake?.()
        })
        const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
        await new Promise((resolve) => socket.once('open', resolve))
        let taken = 0
        const next = async (): Promise<Json> => {
          while (received.length <= taken) await new Promise<void>((resolve) => { wake = resolve })
          return received[taken++] as Json
        }
        return { socket, next, closed }
      }
      const accepted = await open()
      try {
        const challenge = await accepted.next()
        expect(schemaErrors(frames.serverFrames.challenge, challenge), JSON.stringify(challenge)).toBe('')
        const authenticate = authenticateFrame({ credentials: recipient, authority: harness.config.publicAuthority, challenge: String(challenge.challenge) })
        expect(schemaErrors(frames.clientFrames.authenticate, authenticate)).toBe('')
        accepted.socket.send(JSON.stringify(authenticate))
        const ready = await accepted.next()
        expect(schemaErrors(frames.serverFrames.ready, ready), JSON.stringify(ready)).toBe('')
      } finally {
        accepted.socket.terminate()
      }
      const refused = await open()
      await refused.next()
      refused.socket.send('{"type":"ack","ids":["msg_1"]}')
      const error = await refused.next()
      expect(schemaErrors(frames.serverFrames.error, error), JSON.stringify(error)).toBe('')
      expect(error).toMatchObject({ type: 'error', reason: 'missing_credentials', status: 401, code: 'UNAUTHENTICATED' })
      expect(await refused.closed).toBe(1008)
    })
  })
})
