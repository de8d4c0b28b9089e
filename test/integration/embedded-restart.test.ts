import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { SecretSealer } from '../../src/crypto/sealed-secret.js'
import { loadOrCreateDevMasterKey } from '../../src/master-key.js'
import { sealContext } from '../../src/control-plane/service.js'
import { startServer } from '../../src/server.js'
import { openEmbeddedDatabase } from '../../src/stores/embedded/database.js'
import { EmbeddedControlStore } from '../../src/stores/embedded/control-store.js'
import { OPERATORS, OPERATOR_TOKENS_JSON } from '../helpers/app.js'

const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-restart-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

const start = () => startServer(loadConfig({ PORT: '0', MECHA_DATA_DIR: dataDir, LOG_LEVEL: 'silent', MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON }))

async function call(base: string, method: string, path: string, body?: object): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATORS.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, json: await res.json() }
}

describe('embedded store: a restart loses nothing', () => {
  it('keeps mechas, keys with their status, audit events, and the development master key', async () => {
    let server = await start()
    const created = await call(server.url, 'POST', '/v1/mechas', { id: 'alpha', name: 'Alpha', listed: true })
    expect(created.status).toBe(201)
    await call(server.url, 'POST', '/v1/mechas', { id: 'gone' })
    const live = await call(server.url, 'POST', '/v1/mechas/alpha/keys', { signature: { algorithms: ['hmac-sha256'] } })
    const revoked = await call(server.url, 'POST', '/v1/mechas/alpha/keys', {})
    const orphan = await call(server.url, 'POST', '/v1/mechas/gone/keys', {})
    await call(server.url, 'POST', `/v1/keys/${revoked.json.key.id}/revoke`)
    await call(server.url, 'DELETE', '/v1/mechas/gone')
    const auditBefore = (await call(server.url, 'GET', '/v1/audit?limit=500')).json.events
    await server.close()

    server = await start()
    try {
      expect((await call(server.url, 'GET', '/v1/mechas/alpha')).json.mecha).toEqual(created.json.mecha)
      const statuses = Object.fromEntries((await call(server.url, 'GET', '/v1/mechas/alpha/keys')).json.keys.map((k: { id: string; status: string }) => [k.id, k.status]))
      expect(statuses).toEqual({ [live.json.key.id]: 'active', [revoked.json.key.id]: 'revoked' })
      expect((await call(server.url, 'GET', `/v1/keys/${orphan.json.key.id}`)).json.key.status).toBe('mecha_inactive')
      expect((await call(server.url, 'GET', '/v1/audit?limit=500')).json.events).toEqual(auditBefore)
      expect(auditBefore.length).toBeGreaterThanOrEqual(7)
    } finally {
      await server.close()
    }

    // the sealed signing secret still opens with the persisted development master key
    const { key, created: fresh } = loadOrCreateDevMasterKey(dataDir)
    expect(fresh).toBe(false)
    expect(statSync(join(dataDir, 'master.key')).mode & 0o777).toBe(0o600)
    const store = new EmbeddedControlStore(openEmbeddedDatabase(dataDir))
    try {
      const record = await store.getKey(live.json.key.id)
      expect(new SecretSealer(key).open(record?.credentials[0]?.signing_secret_enc ?? '', sealContext(live.json.key.id, 1))).toBe(live.json.signing_secret)
    } finally {
      await store.close()
    }
  })
})
