import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { startServer, type RunningServer } from '../../src/server.js'
import { OPERATORS, OPERATOR_TOKENS_JSON } from '../helpers/app.js'
import { runtimeFetch } from '../helpers/runtime.js'

/**
 * `PORT=0` picks a free port (README). Without MECHA_PUBLIC_URL the public origin defaults to
 * http://HOST:PORT, and it must be the port the service listens on: the discovery document sends
 * clients there, and a signed request's `@authority` is checked against it.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-port-zero-'))
let server: RunningServer

async function operator(method: string, path: string, body?: object): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATORS.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, json: await res.json() }
}

beforeAll(async () => {
  server = await startServer(loadConfig({ PORT: '0', MECHA_DATA_DIR: dataDir, LOG_LEVEL: 'silent', MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON }))
})
afterAll(async () => {
  await server?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('PORT=0 without MECHA_PUBLIC_URL', () => {
  it('publishes the port it listens on as its public origin', async () => {
    const port = new URL(server.url).port
    expect(Number(port)).toBeGreaterThan(0)
    const document = await (await fetch(`${server.url}/.well-known/mecharim`)).json() as { public_url: string }
    expect(document.public_url).toBe(`http://127.0.0.1:${port}`)
  })

  it('accepts a request signed for the authority it listens on', async () => {
    expect((await operator('POST', '/v1/mechas', { id: 'alpha' })).status).toBe(201)
    expect((await operator('POST', '/v1/mechas', { id: 'beta' })).status).toBe(201)
    const issued = await operator('POST', '/v1/mechas/alpha/keys', { permissions: { recipients: ['beta'], kinds: ['*'] }, signature: { required: true, algorithms: ['hmac-sha256'] } })
    expect(issued.status).toBe(201)
    const credentials = { keyId: issued.json.key.id, token: issued.json.token, signingSecret: issued.json.signing_secret }
    const res = await runtimeFetch(server.url, { authority: new URL(server.url).host, method: 'POST', url: '/v1/messages', body: JSON.stringify({ to: 'beta', kind: 'task', payload: 'hi' }), contentType: 'application/json', credentials, auth: 'token+hmac-sha256' })
    expect(res.status).toBe(202)
  })
})
