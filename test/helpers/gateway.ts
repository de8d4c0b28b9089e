import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { Env } from '../../src/config/load.js'
import { admin, testApp, type TestApp } from './app.js'
import { runtimeFetch, type RuntimeCredentials, type RuntimeRequestOptions } from './runtime.js'

export interface IssuedRuntime extends RuntimeCredentials {
  mecha: string
  publicKey?: string
}

export interface GatewayHarness {
  t: TestApp
  /** The listening base URL (real HTTP). */
  base: string
  register(id: string, extra?: object): Promise<void>
  /** Issue a key; with `ed25519` in the algorithms a key pair is generated and registered. */
  issue(mecha: string, body?: { signature?: { required?: boolean; algorithms?: string[] }; [k: string]: unknown }): Promise<IssuedRuntime>
  /** A runtime request over real HTTP, signed for the configured public authority. */
  call(options: Omit<RuntimeRequestOptions, 'authority'> & { authority?: string }): Promise<{ status: number; body: any; headers: Headers }> // eslint-disable-line @typescript-eslint/no-explicit-any
  send(credentials: RuntimeCredentials, message: object, options?: Partial<RuntimeRequestOptions>): Promise<{ status: number; body: any; headers: Headers }> // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>
}

export async function gatewayHarness(env: Env = {}): Promise<GatewayHarness> {
  const t = await testApp({ LOG_LEVEL: 'warn', ...env })
  const base = await t.app.listen({ port: 0, host: '127.0.0.1' })
  const call: GatewayHarness['call'] = async (options) => {
    const res = await runtimeFetch(base, { authority: t.config.publicAuthority, ...options })
    const text = await res.text()
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers }
  }
  return {
    t,
    base,
    async register(id, extra = {}) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id, ...extra } })
      if (res.statusCode !== 201) throw new Error(`register ${id}: ${res.body}`)
    },
    async issue(mecha, body = {}) {
      let privateKey: KeyObject | undefined
      let publicKey: string | undefined
      const payload: Record<string, unknown> = { ...body }
      if (body.signature?.algorithms?.includes('ed25519') === true && payload.public_keys === undefined) {
        const pair = generateKeyPairSync('ed25519')
        privateKey = pair.privateKey
        publicKey = pair.publicKey.export({ format: 'jwk' }).x as string
        payload.public_keys = [publicKey]
      }
      const res = await t.app.inject({ method: 'POST', url: `/v1/mechas/${mecha}/keys`, headers: admin, payload })
      if (res.statusCode !== 201) throw new Error(`issue for ${mecha}: ${res.body}`)
      const issued = res.json()
      return { mecha, keyId: issued.key.id, token: issued.token, signingSecret: issued.signing_secret, privateKey, publicKey }
    },
    call,
    send(credentials, message, options = {}) {
      return call({ method: 'POST', url: '/v1/messages', body: JSON.stringify(message), credentials, ...options })
    },
    async close() {
      await t.close()
    },
  }
}

/** Read an inbox through the transport directly (what was really delivered, bypassing the gateway). */
export async function delivered(h: GatewayHarness, mecha: string): Promise<{ id: string; from: string; payload: unknown }[]> {
  return (await h.t.stores.transport.read(mecha, { limit: 100, visibilityMs: 60_000, now: Date.now() })).messages
}

/** Read and acknowledge everything in `credentials`' inbox over the gateway (a test's afterEach). */
export async function drainInbox(h: GatewayHarness, credentials: IssuedRuntime): Promise<void> {
  const inbox = await h.call({ method: 'GET', url: '/v1/inbox?limit=100', credentials })
  const ids = (inbox.body?.messages ?? []).map((m: { id: string }) => m.id)
  if (ids.length > 0) await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids }), credentials })
}

/** A fresh gateway with these mechas registered, each issued one key: the harness, then the keys in order. */
export async function gatewayWithKeys<const Ids extends readonly string[]>(...ids: Ids): Promise<[GatewayHarness, ...{ [I in keyof Ids]: IssuedRuntime }]> {
  const h = await gatewayHarness()
  for (const id of ids) await h.register(id)
  const keys: IssuedRuntime[] = []
  for (const id of ids) keys.push(await h.issue(id))
  return [h, ...keys] as unknown as [GatewayHarness, ...{ [I in keyof Ids]: IssuedRuntime }]
}
