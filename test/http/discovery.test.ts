import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { CATALOGUE } from '../../src/errors/catalogue.js'
import { SCHEMAS } from '../../src/schemas/registry.js'
import { messageRequest } from '../../src/schemas/gateway.js'
import { keyIssueRequest } from '../../src/schemas/control-plane.js'
import { SURFACES } from '../../src/surfaces.js'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'

let h: GatewayHarness
const get = async (url: string) => {
  const res = await fetch(`${h.base}${url}`)
  return { status: res.status, headers: res.headers, text: await res.text() }
}

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('public-bot', { listed: true, name: 'Public bot', description: 'answers questions', accepts: ['question.*'] })
  await h.register('hidden-bot')
  await h.register('retired-bot', { listed: true })
  await h.t.app.inject({ method: 'DELETE', url: '/v1/mechas/retired-bot', headers: admin })
  await h.t.app.inject({ method: 'PUT', url: '/v1/modes/decision.v1', headers: admin, payload: { kinds: ['proposal', 'vote', 'commit'], version: 1 } })
})
afterAll(async () => { await h.close() })

describe('GET /.well-known/mecharim', () => {
  it('lets a client configure itself: surfaces, auth, signature profile, errors, limits, version', async () => {
    const res = await get('/.well-known/mecharim')
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toContain('max-age')
    const doc = JSON.parse(res.text)
    expect(doc).toMatchObject({ service: 'mecharim', version: expect.any(String), public_url: h.t.config.publicUrl })
    expect(doc.surfaces).toHaveLength(SURFACES.length)
    expect(doc.surfaces.filter((s: { access: string }) => s.access === 'runtime').map((s: { url: string }) => s.url)).toContain(`${h.t.config.publicUrl}/v1/messages`)
    expect(doc.surfaces.find((s: { url: string }) => s.url.endsWith('/v1/mechas/{id}/keys') ).access).toBe('operator')
    const modes = doc.surfaces.filter((s: { url: string }) => s.url.includes('/v1/modes'))
    expect(modes.map((s: { access: string; methods: string[]; url: string }) => [s.access, s.methods, s.url.slice(h.t.config.publicUrl.length)])).toEqual([
      ['open', ['GET'], '/v1/modes'], ['open', ['GET'], '/v1/modes/{name}'],
      ['operator', ['PUT'], '/v1/modes/{name}'], ['operator', ['DELETE'], '/v1/modes/{name}'],
    ])
    expect(doc.authentication.runtime.timestamp).toMatchObject({ header: 'Mecha-Timestamp', window_seconds: 300 })
    expect(doc.authentication.runtime.nonce).toMatchObject({ header: 'Mecha-Nonce', min_length: 22, max_length: 128 })
    expect(doc.authentication.runtime.signature).toMatchObject({
      profile: 'mecha-v1', label: 'mecha', algorithms: ['hmac-sha256', 'ed25519'], authority: h.t.config.publicAuthority,
      covered_components: ['@method', '@authority', '@path', '@query', 'mecha-timestamp', 'mecha-nonce'],
    })
    expect(doc.authentication.runtime.websocket_first_frame).toMatchObject({
      subprotocol: 'mecha.frame-auth', timeout_seconds: 10,
      fields: { token: 'authorization', timestamp: 'mecha-timestamp', nonce: 'mecha-nonce', signature_input: 'signature-input', signature: 'signature' },
      covered_components: ['@method', '@authority', '@path', '@query', 'mecha-timestamp', 'mecha-nonce', 'mecha-challenge'],
    })
    expect(doc.errors).toHaveLength(Object.keys(CATALOGUE).length)
    expect(doc.errors.find((e: { reason: string }) => e.reason === 'replayed_nonce')).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 })
    expect(doc.limits).toMatchObject({ inbox_unacknowledged_messages: 10000, long_poll_wait_seconds: 30 })
  })

  it('contains no secret and no operator data', async () => {
    const res = await get('/.well-known/mecharim')
    expect(res.text).not.toMatch(/mecha_mk[a-z2-7]{24}_|mss_[A-Za-z0-9_-]{43}/)
    expect(res.text).not.toContain('hidden-bot')
  })
})

describe('GET /openapi.yaml and /openapi.json', () => {
  it('serve the committed document', async () => {
    const committed = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')
    const yaml = await get('/openapi.yaml')
    expect(yaml.text).toBe(committed)
    expect(yaml.headers.get('content-type')).toContain('yaml')
    expect(JSON.parse((await get('/openapi.json')).text)).toEqual(parse(committed))
  })
})

describe('GET /v1/schemas', () => {
  it('lists every schema, and each one is the very object the routes validate with', async () => {
    const list = JSON.parse((await get('/v1/schemas')).text)
    expect(list.schemas.map((s: { name: string }) => s.name).sort()).toEqual(Object.keys(SCHEMAS).sort())
    for (const { name } of list.schemas) {
      const res = await get(`/v1/schemas/${name}`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toContain('application/schema+json')
      expect(JSON.parse(res.text)).toEqual(JSON.parse(JSON.stringify(SCHEMAS[name as keyof typeof SCHEMAS])))
      expect(JSON.parse(res.text).$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    }
    // one source of truth: the registry holds the route schemas themselves, not copies
    expect(SCHEMAS['message-request']).toBe(messageRequest)
    expect(SCHEMAS['key-issue-request']).toBe(keyIssueRequest)
  })

  it('answers 404 route_not_found for an unknown schema', async () => {
    const res = await get('/v1/schemas/nope')
    expect(res.status).toBe(404)
    expect(JSON.parse(res.text).reason).toBe('route_not_found')
  })
})

describe('GET /v1/directory/mechas', () => {
  it('shows listed, active mechas only, with the public keys of their active keys', async () => {
    const live = await h.issue('public-bot', { signature: { algorithms: ['ed25519'] } })
    const revoked = await h.issue('public-bot', { signature: { algorithms: ['ed25519'] } })
    await h.t.app.inject({ method: 'POST', url: `/v1/keys/${revoked.keyId}/revoke`, headers: admin })
    const list = JSON.parse((await get('/v1/directory/mechas')).text)
    expect(list).toEqual({ next: null, mechas: [{ id: 'public-bot', name: 'Public bot', description: 'answers questions', accepts: ['question.*'], public_keys: [live.publicKey] }] })
    const card = await get('/v1/directory/mechas/public-bot')
    expect(JSON.parse(card.text).public_keys).toEqual([live.publicKey])
  })

  it('answers an unlisted, a deactivated and an absent mecha exactly alike', async () => {
    const answers = await Promise.all(['hidden-bot', 'retired-bot', 'never-was', 'BAD*ID'].map(async (id) => {
      const res = await get(`/v1/directory/mechas/${encodeURIComponent(id)}`)
      const body = JSON.parse(res.text)
      return { status: res.status, reason: body.reason, detail: body.detail }
    }))
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1)
    expect(answers[0]).toMatchObject({ status: 404, reason: 'mecha_not_found' })
  })
})

describe('GET /healthz and /readyz', () => {
  it('report liveness and readiness of every dependency', async () => {
    expect(JSON.parse((await get('/healthz')).text)).toEqual({ status: 'ok' })
    const ready = await get('/readyz')
    expect(ready.status).toBe(200)
    expect(JSON.parse(ready.text)).toEqual({
      status: 'ready', checks: [{ name: 'store', ok: true }, { name: 'replay_cache', ok: true }, { name: 'transport', ok: true }],
      durability: { level: 'everysec', required: 'memory', store: 'embedded', detail: expect.stringContaining('overlapping sync') },
    })
  })
})

describe('every URL the well-known document lists resolves', () => {
  // Issue 11: the docs surface was listed as `/docs/…`, a literal ellipsis, which is a 404.
  it('answers something other than 404 at each surface, schema and document URL', async () => {
    const doc = JSON.parse((await get('/.well-known/mecharim')).text)
    const values: Record<string, string> = { id: 'public-bot', keyId: 'mkaaaaaaaaaaaaaaaaaaaaaaaa', name: Object.keys(SCHEMAS)[0] as string }
    const local = (url: string): string => {
      expect(url.startsWith(h.t.config.publicUrl), url).toBe(true)
      // A mode's {name} is a mode, not a schema name: the one registered above.
      const path = url.slice(h.t.config.publicUrl.length)
      return `${h.base}${path}`.replace(/\{([A-Za-z]+)\}/g, (_, v: string) => (path.startsWith('/v1/modes/') ? 'decision.v1' : values[v] as string))
    }
    const listed: { method: string; url: string }[] = [
      ...doc.surfaces.flatMap((s: { methods: string[]; url: string }) => s.methods.map((method) => ({ method, url: s.url }))),
      ...Object.values(doc.schemas as Record<string, string>).map((url) => ({ method: 'GET', url })),
      ...Object.values(doc.documents as Record<string, string>).map((url) => ({ method: 'GET', url })),
    ]
    expect(listed.length).toBeGreaterThan(SURFACES.length)
    for (const { method, url } of listed) {
      // No credentials: operator and runtime routes answer 401, an open route its content; none 404.
      const res = await fetch(local(url), { method, ...(method === 'POST' || method === 'PATCH' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}) })
      await res.arrayBuffer()
      expect(res.status, `${method} ${url}`).not.toBe(404)
    }
  })
})
