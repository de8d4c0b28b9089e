import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildSignatureBase, parseMechaSignature } from '../../src/crypto/signature-base.js'
import { ed25519PublicKeyObject, verifyEd25519, verifyHmacSha256 } from '../../src/crypto/verify-signature.js'
import { CATALOGUE } from '../../src/errors/catalogue.js'
import { ORDER_NOTE, orderOfChecksMarkdown, undescribedReasons } from '../../src/discovery/mcp/checks.js'
import { PIPELINE } from '../../src/gateway/pipeline.js'
import { SCHEMAS, schemaNames } from '../../src/schemas/registry.js'
import { SURFACES } from '../../src/surfaces.js'
import { admin, testApp, type TestApp } from '../helpers/app.js'

// The public test material of docs/protocol.md ("Worked example and test vectors").
const EXAMPLE = {
  secret: 'mss_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE',
  publicKey: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
  hmacSignature: 'mecha=:Xu9g89/vcX2nDFBgrG5VpwLcz0IG2GxQHX3+qVMTi4c=:',
  ed25519Signature: 'mecha=:J5zSeLceQK/eTaoQ/dlVHr4q10VafdGZhFEK9KMOZtK/Nm4GTHup+OTFarmupZK4f7sk+o/sENyuejsoTpHYBg==:',
  /** The token test vector (a secret of 32 zero bytes). */
  token: 'mecha_mkaaaaaaaaaaaaaaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_nglbnha',
}
/** The fixed values of the documented worked example; without them the tool signs for now. */
const DOCUMENTED = { authority: 'gateway.example.com', timestamp: 1795300000, nonce: 'bWVjaGEtdjEtZXhhbXBsZS1ub25jZSE' }
const PROTOCOL = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')
const TOOLS = ['describe_authentication', 'list_surfaces', 'get_schema', 'explain_error', 'build_signed_request_example', 'list_modes']

interface Exchange { method: string; headers: Headers; status: number; text: string }

let t: TestApp
let base: string
let client: Client
const exchanges: Exchange[] = []

/** Every request the SDK client makes, and every answer, kept for the credential checks. */
async function recordingFetch(url: string | URL, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, init)
  exchanges.push({ method: init?.method ?? 'GET', headers: new Headers(init?.headers), status: res.status, text: await res.clone().text() })
  return res
}

async function call(name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult
}

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n')
}

function structured<T>(result: CallToolResult): T {
  expect(result.isError ?? false, text(result)).toBe(false)
  return result.structuredContent as T
}

beforeAll(async () => {
  t = await testApp()
  await t.app.listen({ port: 0, host: '127.0.0.1' })
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
  client = new Client({ name: 'mecharim-mcp-test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { fetch: recordingFetch }))
})

afterAll(async () => {
  await client?.close()
  await t?.close()
})

describe('the MCP server at /mcp', () => {
  it('lists the six read-only tools, none named for an action and none taking a secret', async () => {
    const { tools } = await client.listTools()
    expect(tools.map((tool) => tool.name).sort()).toEqual([...TOOLS].sort())
    for (const tool of tools) {
      expect(tool.description?.length, tool.name).toBeGreaterThan(40)
      expect(tool.inputSchema.type).toBe('object')
      expect(tool.annotations?.readOnlyHint, tool.name).toBe(true)
      expect(tool.annotations?.destructiveHint, tool.name).toBe(false)
      expect(tool.name).not.toMatch(/issue|send|revoke|rotate|create|delete|update|write|register/)
      for (const property of Object.keys(tool.inputSchema.properties ?? {})) expect(property).not.toMatch(/secret|token|key|password|credential/i)
    }
    const getSchema = tools.find((tool) => tool.name === 'get_schema')
    expect((getSchema?.inputSchema.properties?.name as { enum?: string[] }).enum).toEqual(schemaNames())
  })

  it('describe_authentication: headers, window, nonce, token, mecha-v1, digest and the order of checks', async () => {
    const result = await call('describe_authentication')
    const model = structured<{ runtime: Record<string, Record<string, unknown>>; order_of_checks: { step: number }[] }>(result)
    expect(model.runtime.timestamp).toMatchObject({ header: 'Mecha-Timestamp', window_seconds: t.config.timestampWindowSeconds })
    expect(model.runtime.nonce).toMatchObject({ header: 'Mecha-Nonce', min_length: 22 })
    expect(model.runtime.signature).toMatchObject({
      profile: 'mecha-v1', algorithms: ['hmac-sha256', 'ed25519'],
      covered_components: ['@method', '@authority', '@path', '@query', 'mecha-timestamp', 'mecha-nonce'],
      authority: t.config.publicAuthority,
    })
    expect((model.runtime.signature as { digest: unknown }).digest).toMatchObject({ header: 'Content-Digest' })
    expect(model.order_of_checks.map((c) => c.step)).toEqual(PIPELINE.map((_, i) => i))
    for (const word of ['Mecha-Timestamp', 'Mecha-Nonce', 'mecha-v1', 'Content-Digest', 'replayed_nonce', 'mecha_<key id>']) expect(text(result)).toContain(word)
  })

  // Issue 11: the header read "Authorization: Mecha, Bearer <token>", and nothing said where a key
  // comes from or that nobody has to sign by hand.
  it('describe_authentication: the header as sent, who issues keys, and what signs for you', async () => {
    const said = text(await call('describe_authentication'))
    expect(said).toContain('Authorization: Mecha <token>')
    expect(said).toMatch(/Bearer <token> is accepted as an alias/)
    expect(said).not.toContain('Mecha, Bearer')
    expect(said).toMatch(/An operator issues Mecha keys[^\n]*mecharim keys issue/)
    expect(said).toMatch(/SDK \(mecharim\/client\)[^\n]*CLI \(mecharim send, listen, whoami\)[^\n]*sign/)
  })

  it('list_surfaces: every surface with its URL, filtered by access on request', async () => {
    const all = structured<{ surfaces: { access: string; methods: string[]; url: string }[] }>(await call('list_surfaces'))
    expect(all.surfaces).toHaveLength(SURFACES.length)
    const runtime = structured<{ surfaces: { access: string; methods: string[]; url: string }[] }>(await call('list_surfaces', { access: 'runtime' }))
    expect(runtime.surfaces.length).toBe(SURFACES.filter((s) => s.access === 'runtime').length)
    expect(runtime.surfaces.every((s) => s.access === 'runtime')).toBe(true)
    expect(runtime.surfaces).toContainEqual(expect.objectContaining({ methods: ['POST'], url: `${t.config.publicUrl}/v1/messages` }))
    const open = await call('list_surfaces', { access: 'open' })
    expect(text(open)).toContain(`${t.config.publicUrl}/mcp`)
    // The session modes: read openly, written by operators and by keys allowed to.
    expect(text(open)).toContain(`${t.config.publicUrl}/v1/modes/{name}`)
    expect(runtime.surfaces).toContainEqual(expect.objectContaining({ methods: ['PUT'], url: `${t.config.publicUrl}/v1/runtime/modes/{name}` }))
    expect((await call('list_surfaces', { access: 'everyone' })).isError).toBe(true)
  })

  it('get_schema: the registry object itself; an unknown name is a tool error, not a crash', async () => {
    const result = await call('get_schema', { name: 'message-request' })
    const expected = JSON.parse(JSON.stringify(SCHEMAS['message-request'])) as unknown
    expect(structured(result)).toEqual(expected)
    expect(JSON.parse(text(result))).toEqual(expected)
    const unknown = await call('get_schema', { name: 'no-such-schema' })
    expect(unknown.isError).toBe(true)
    expect(text(unknown)).toContain('message-request')
  })

  it('explain_error: meaning, fix and the check that produces it', async () => {
    const result = await call('explain_error', { reason: 'replayed_nonce' })
    const explained = structured<{ code: string; status: number; fix: string; produced_by: { runtime_checks: { step: number }[] } }>(result)
    expect(explained).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, fix: CATALOGUE.replayed_nonce.fix })
    // The nonce step of the reading routes, and the hand-off of a message (which claims it atomically).
    expect(explained.produced_by.runtime_checks.map((c) => c.step)).toEqual(PIPELINE.flatMap((s, i) => (s.refusals.includes('replayed_nonce') ? [i] : [])))
    expect(text(result)).toContain(CATALOGUE.replayed_nonce.fix)
    const control = structured<{ produced_by: { other?: string } }>(await call('explain_error', { reason: 'missing_scope' }))
    expect(control.produced_by.other).toMatch(/operator/i)
  })

  it('explain_error: an unknown reason is a tool error listing the valid reasons, without echoing the input', async () => {
    const unknown = await call('explain_error', { reason: 'not_a_reason_xyz' })
    expect(unknown.isError).toBe(true)
    for (const reason of Object.keys(CATALOGUE)) expect(text(unknown)).toContain(reason)
    expect(text(unknown)).not.toContain('not_a_reason_xyz')
  })

  it('build_signed_request_example (hmac-sha256): the documented example, verifying with the documented secret', async () => {
    const example = structured<{ signature_base: string; signature: string; example_only: boolean; reproduces_documented_example: boolean; request: { headers: Record<string, string> } }>(
      await call('build_signed_request_example', { alg: 'hmac-sha256', ...DOCUMENTED }))
    expect(example.example_only).toBe(true)
    expect(example.reproduces_documented_example).toBe(true)
    expect(PROTOCOL).toContain(example.signature_base)
    expect(verifyHmacSha256(example.signature_base, Buffer.from(EXAMPLE.secret, 'utf8'), Buffer.from(example.signature, 'base64'))).toBe(true)
    expect(example.request.headers.signature).toBe(EXAMPLE.hmacSignature)
    expect(rebuiltBase(example.request.headers, 'POST', '/v1/messages', '?')).toBe(example.signature_base)
  })

  it('build_signed_request_example (ed25519): verifies with the RFC 8032 test public key', async () => {
    const result = await call('build_signed_request_example', { alg: 'ed25519', ...DOCUMENTED })
    const example = structured<{ signature_base: string; signature: string; request: { headers: Record<string, string> } }>(result)
    const key = ed25519PublicKeyObject(Buffer.from(EXAMPLE.publicKey, 'base64url'))
    expect(verifyEd25519(example.signature_base, key, Buffer.from(example.signature, 'base64'))).toBe(true)
    expect(example.request.headers.signature).toBe(EXAMPLE.ed25519Signature)
    expect(text(result)).toMatch(/EXAMPLE ONLY[\s\S]*never use it in production/)
  })

  it('build_signed_request_example: a bodiless GET covers six components and still verifies', async () => {
    const example = structured<{ signature_base: string; signature: string; covered_components: string[]; request: { headers: Record<string, string> } }>(
      await call('build_signed_request_example', { alg: 'hmac-sha256', method: 'GET', path: '/v1/inbox?wait=30', authority: 'gateway.example.com' }))
    expect(example.covered_components).toEqual(['@method', '@authority', '@path', '@query', 'mecha-timestamp', 'mecha-nonce'])
    expect(example.signature_base).toContain('"@query": ?wait=30')
    expect(example.request.headers['content-digest']).toBeUndefined()
    expect(verifyHmacSha256(example.signature_base, Buffer.from(EXAMPLE.secret, 'utf8'), Buffer.from(example.signature, 'base64'))).toBe(true)
    expect(rebuiltBase(example.request.headers, 'GET', '/v1/inbox', '?wait=30')).toBe(example.signature_base)
  })

  // Issue 11: the example always signed for gateway.example.com at a fixed time in the past, so a
  // caller could not compare it with a request of their own.
  it('build_signed_request_example: signs for the caller\'s authority at the current time, with a fresh nonce', async () => {
    type Example = { signature_base: string; signature: string; reproduces_documented_example: boolean; http: string; request: { authority: string; headers: Record<string, string> } }
    const before = Math.floor(Date.now() / 1000)
    const result = await call('build_signed_request_example', { alg: 'hmac-sha256', authority: 'gw.internal:8443' })
    const example = structured<Example>(result)
    expect(example.request.authority).toBe('gw.internal:8443')
    expect(example.signature_base).toContain('"@authority": gw.internal:8443')
    expect(example.http).toContain('Host: gw.internal:8443')
    expect(example.reproduces_documented_example).toBe(false)
    const timestamp = Number(example.request.headers['mecha-timestamp'])
    expect(timestamp).toBeGreaterThanOrEqual(before)
    expect(timestamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000))
    expect(example.request.headers['mecha-nonce']).toMatch(/^[A-Za-z0-9_-]{22,128}$/)
    expect(example.request.headers['mecha-nonce']).not.toBe(DOCUMENTED.nonce)
    expect(rebuiltBase(example.request.headers, 'POST', '/v1/messages', '?', 'gw.internal:8443')).toBe(example.signature_base)
    expect(verifyHmacSha256(example.signature_base, Buffer.from(EXAMPLE.secret, 'utf8'), Buffer.from(example.signature, 'base64'))).toBe(true)
    const again = structured<Example>(await call('build_signed_request_example', { alg: 'hmac-sha256', authority: 'gw.internal:8443' }))
    expect(again.request.headers['mecha-nonce']).not.toBe(example.request.headers['mecha-nonce'])
    // Without an authority: this server's own.
    const own = structured<Example>(await call('build_signed_request_example', { alg: 'ed25519' }))
    expect(own.request.authority).toBe(t.config.publicAuthority)
    for (const authority of ['gw.internal/v1', 'https://gw.internal', 'user@gw.internal', 'gw internal', 'GW.internal', 'gw.internal:99999', '']) {
      expect((await call('build_signed_request_example', { alg: 'hmac-sha256', authority })).isError, authority).toBe(true)
    }
    expect((await call('build_signed_request_example', { alg: 'hmac-sha256', timestamp: -1 })).isError).toBe(true)
  })

  it('build_signed_request_example: refuses a pasted credential without echoing it, and a non-JSON body', async () => {
    const pasted = `mss_${'Z'.repeat(43)}`
    const refused = await call('build_signed_request_example', { alg: 'hmac-sha256', body: { note: pasted } })
    expect(refused.isError).toBe(true)
    expect(text(refused)).not.toContain(pasted)
    expect((await call('build_signed_request_example', { alg: 'ed25519', body: 'not json' })).isError).toBe(true)
  })

  it('resources: one per schema, the protocol, the discovery and OpenAPI documents', async () => {
    const { resources } = await client.listResources()
    for (const name of schemaNames()) {
      expect(resources).toContainEqual(expect.objectContaining({ uri: `mecharim://schemas/${name}`, mimeType: 'application/schema+json' }))
    }
    expect(resources).toContainEqual(expect.objectContaining({ uri: 'mecharim://docs/protocol.md', mimeType: 'text/markdown' }))
    expect(resources.map((r) => r.uri)).toEqual(expect.arrayContaining(['mecharim://.well-known/mecharim', 'mecharim://openapi.yaml']))

    const schema = (await client.readResource({ uri: 'mecharim://schemas/message-request' })).contents[0]
    expect(schema?.mimeType).toBe('application/schema+json')
    expect(JSON.parse((schema as { text: string }).text)).toEqual(JSON.parse(JSON.stringify(SCHEMAS['message-request'])))
    const protocol = (await client.readResource({ uri: 'mecharim://docs/protocol.md' })).contents[0]
    expect((protocol as { text: string }).text).toBe(PROTOCOL)
    const discovery = (await client.readResource({ uri: 'mecharim://.well-known/mecharim' })).contents[0]
    expect(JSON.parse((discovery as { text: string }).text)).toEqual((await t.app.inject({ url: '/.well-known/mecharim' })).json())
  })

  it('list_modes: the live registry, as GET /v1/modes serves it, changes included; it grants nothing', async () => {
    const empty = await call('list_modes')
    expect(structured(empty)).toMatchObject({ count: 0, modes: [] })
    expect(text(empty)).toContain('No session modes are registered')
    for (const [name, kinds] of [['decision.v1', ['proposal', 'vote', 'commit']], ['auction.v2', ['bid', 'award']]] as const) {
      const put = await t.app.inject({ method: 'PUT', url: `/v1/modes/${name}`, headers: admin, payload: { kinds, version: Number(name.slice(-1)), description: `the ${name} protocol` } })
      expect(put.statusCode).toBe(201)
    }
    const served = (await (await fetch(`${base}/v1/modes`)).json()) as { modes: { name: string }[] }
    const listed = await call('list_modes')
    const model = structured<{ count: number; modes: unknown[]; note: string }>(listed)
    expect(model.modes).toEqual(served.modes)
    expect(model.count).toBe(2)
    expect(model.note).toMatch(/grants nothing/)
    const said = text(listed)
    expect(said).toMatch(/^- auction\.v2 \(version 2\): bid, award — the auction\.v2 protocol$/m)
    expect(said).toMatch(/^- decision\.v1 \(version 1\): proposal, vote, commit — the decision\.v1 protocol$/m)
    expect(said).toMatch(/grants nothing/)
    // One mode by name; an unknown one is a tool error that does not echo the input.
    const one = structured<{ count: number; modes: { name: string }[] }>(await call('list_modes', { name: 'decision.v1' }))
    expect(one.modes.map((m) => m.name)).toEqual(['decision.v1'])
    const unknown = await call('list_modes', { name: 'nothing.v9' })
    expect(unknown.isError).toBe(true)
    expect(text(unknown)).not.toContain('nothing.v9')
    expect(text(unknown)).toContain('auction.v2, decision.v1')
    // Live: a deletion shows at the next call, not at the next start.
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/modes/auction.v2', headers: admin })).statusCode).toBe(204)
    expect(structured<{ modes: { name: string }[] }>(await call('list_modes')).modes.map((m) => m.name)).toEqual(['decision.v1'])
  })

  it('answers concurrent calls (stateless: a server per request)', async () => {
    const results = await Promise.all(Object.keys(CATALOGUE).map(async (reason) => structured<{ reason: string }>(await call('explain_error', { reason }))))
    expect(results.map((r) => r.reason)).toEqual(Object.keys(CATALOGUE))
  })
})

describe('the /mcp HTTP surface', () => {
  it('GET and DELETE answer 405 with a JSON-RPC error; POST only takes application/json', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${base}/mcp`, { method, headers: { accept: 'text/event-stream' } })
      expect(res.status, method).toBe(405)
      expect(res.headers.get('allow')).toBe('POST')
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null })
    }
    const form = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })
    expect(form.status).toBe(415)
    expect(await form.json()).toMatchObject({ reason: 'unsupported_media_type' })
  })

  it('a raw POST (stateless: tools/list without initialize) answers JSON with a request id', async () => {
    const res = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-request-id')).toMatch(/^req_/)
    expect(res.headers.get('mcp-session-id')).toBeNull()
    const body = await res.json() as { result: { tools: { name: string }[] } }
    expect(body.result.tools).toHaveLength(TOOLS.length)
  })

  it('the client needed no credentials, and no answer carried one', () => {
    expect(exchanges.length).toBeGreaterThan(10)
    // 200 for requests, 202 for notifications (notifications/initialized); the client's GET for a stream got 405
    expect(new Set(exchanges.filter((e) => e.method === 'POST').map((e) => e.status))).toEqual(new Set([200, 202]))
    expect(exchanges.filter((e) => e.method === 'GET').map((e) => e.status)).toEqual([405])
    for (const e of exchanges) expect(e.headers.has('authorization')).toBe(false)
    const allowed = new Set([EXAMPLE.secret, EXAMPLE.token])
    for (const e of exchanges) {
      const found = [...e.text.matchAll(/mecha_mk[a-z2-7]{24}_[a-z2-7]{52}_[a-z2-7]{7}|mss_[A-Za-z0-9_-]{43}/g)].map((m) => m[0])
      expect(found.filter((value) => !allowed.has(value))).toEqual([])
    }
  })
})

describe('what the MCP server says stays true', () => {
  // The drift test: the gateway's pipeline table is the one declaration of the order of checks; the
  // protocol document, the MCP explanation and the well-known document must say the same.
  it('docs/protocol.md shows the pipeline table, character for character, and its note', () => {
    const section = PROTOCOL.slice(PROTOCOL.indexOf('### Order of checks'), PROTOCOL.indexOf('### Endpoints'))
    expect(section).toContain(orderOfChecksMarkdown())
    expect(section).toContain(ORDER_NOTE)
  })

  it('the MCP explanation lists every step of the pipeline table, in order, with its refusals', async () => {
    const result = await call('describe_authentication')
    const model = structured<{ order_of_checks: { step: number; name: string; check: string; refusals: string[] }[] }>(result)
    expect(model.order_of_checks.map((c) => [c.name, c.check, c.refusals])).toEqual(PIPELINE.map((s) => [s.name, s.check, [...s.refusals]]))
    const lines = text(result).split('\n')
    PIPELINE.forEach((s, i) => expect(lines, s.name).toContain(`${i}. ${s.check} -> ${s.refusals.join(', ')}`))
  })

  it('the well-known document publishes the pipeline table', async () => {
    const doc = (await (await fetch(`${base}/.well-known/mecharim`)).json()) as { authentication: { runtime: { order_of_checks: { name: string; phase: string; check: string; refusals: string[] }[]; order_note: string } } }
    expect(doc.authentication.runtime.order_of_checks.map((c) => [c.name, c.phase, c.check, c.refusals])).toEqual(PIPELINE.map((s) => [s.name, s.phase, s.check, [...s.refusals]]))
    expect(doc.authentication.runtime.order_note).toBe(ORDER_NOTE)
  })

  it('every catalogue reason says which check produces it', () => {
    expect(undescribedReasons()).toEqual([])
  })
})

/** The signature base rebuilt from the returned headers with the parser the gateway uses. */
function rebuiltBase(headers: Record<string, string>, method: string, path: string, query: string, authority = 'gateway.example.com'): string {
  const parsed = parseMechaSignature(headers['signature-input'] ?? '', headers.signature ?? '')
  if (!parsed.ok) throw new Error(parsed.detail)
  const built = buildSignatureBase(parsed.value.components, parsed.value.signatureParams, {
    method, authority, path, query, header: (name) => headers[name],
  })
  if (!built.ok) throw new Error(built.detail)
  return built.value
}
