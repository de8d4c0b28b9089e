import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { admin, testApp } from '../helpers/app.js'
import { runtimeHeaders } from '../helpers/runtime.js'

const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-replay-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('embedded mode: a restart does not reopen a replay window', () => {
  it('a request accepted before the restart is refused as replayed after it', async () => {
    const masterKey = Buffer.alloc(32, 3)
    let t = await testApp({}, { dataDir, masterKey })
    for (const id of ['alpha', 'beta']) await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })
    const issued = (await t.app.inject({ method: 'POST', url: '/v1/mechas/alpha/keys', headers: admin, payload: { signature: { algorithms: ['hmac-sha256'] } } })).json()
    const body = JSON.stringify({ to: 'beta', kind: 'k', payload: 'once' })
    const headers = runtimeHeaders({ method: 'POST', url: '/v1/messages', body, credentials: { keyId: issued.key.id, signingSecret: issued.signing_secret }, auth: 'hmac-sha256', authority: t.config.publicAuthority })
    expect((await t.app.inject({ method: 'POST', url: '/v1/messages', headers, payload: body })).statusCode).toBe(202)
    await t.close()

    t = await testApp({}, { dataDir, masterKey })
    try {
      const replay = await t.app.inject({ method: 'POST', url: '/v1/messages', headers, payload: body })
      expect({ status: replay.statusCode, reason: replay.json().reason }).toEqual({ status: 401, reason: 'replayed_nonce' })
      expect((await t.stores.transport.read('beta', { limit: 10, visibilityMs: 1000, now: Date.now() })).messages.map((m) => m.payload)).toEqual(['once'])
    } finally {
      await t.close()
    }
  })
})
