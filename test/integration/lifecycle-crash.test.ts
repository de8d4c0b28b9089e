import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { OPERATORS, OPERATOR_TOKENS_JSON } from '../helpers/app.js'
import { spawnService, type ServiceProcess } from '../helpers/process.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { runtimeHeaders, type RuntimeCredentials } from '../helpers/runtime.js'

const AUTHORITY = 'gateway.test'
/** Crash rounds, and the operations between two crashes (at a random point). */
const ROUNDS = 6
const OPS_PER_ROUND = 40

type Answer = { status: number; body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The lifecycle under crashes: a loop of sends (with Idempotency-Keys), reads, acks, nacks and rejects,
 * with the gateway killed (SIGKILL) at a random point of every round and, on Redis, Redis killed too
 * (AOF, fsync always) every other round. Afterwards every accepted message is in exactly one place:
 * acknowledged, or in the dead letters (what is still in the inbox is read and acknowledged at the end),
 * never lost and never in two.
 */
function crashSuite(name: string, store: () => Promise<{ env: Record<string, string>; crash?: () => Promise<void>; close(): Promise<void> }>): void {
  describe(name, () => {
    const cwd = mkdtempSync(join(tmpdir(), 'mecharim-crash-'))
    afterAll(() => rmSync(cwd, { recursive: true, force: true }))

    it('every accepted message ends acknowledged or dead-lettered, exactly once', async () => {
      const backing = await store()
      const env = {
        PORT: '0', LOG_LEVEL: 'info', MECHA_PUBLIC_URL: `http://${AUTHORITY}`, MECHA_MASTER_KEY: randomBytes(32).toString('hex'),
        MECHA_OPERATOR_TOKENS_JSON: OPERATOR_TOKENS_JSON, MECHA_AUTH_FAILURE_LIMIT: '0', MECHA_MAX_FUTURE_SKEW_SECONDS: '1',
        MECHA_VISIBILITY_TIMEOUT_SECONDS: '1', MECHA_MAX_DELIVERIES: '3', MECHA_DELIVERY_BACKOFF_SECONDS: '0', MECHA_DURABILITY: 'fsync',
        ...backing.env,
      }
      let svc: ServiceProcess = await spawnService(env, cwd, 30_000)
      const base = (): string => svc.url
      const operator = async (method: string, path: string, body?: object): Promise<Answer> => {
        const res = await fetch(`${base()}${path}`, {
          method, headers: { authorization: `Bearer ${OPERATORS.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        })
        return { status: res.status, body: await res.json() }
      }
      const call = async (credentials: RuntimeCredentials, method: string, url: string, body?: object, extraHeaders: Record<string, string> = {}): Promise<Answer | undefined> => {
        const text = body === undefined ? undefined : JSON.stringify(body)
        const headers = runtimeHeaders({ method, url, credentials, authority: AUTHORITY, auth: 'token', extraHeaders, ...(text !== undefined ? { body: text } : {}) })
        try {
          const res = await fetch(`${base()}${url}`, { method, headers, ...(text !== undefined ? { body: text } : {}), signal: AbortSignal.timeout(10_000) })
          return { status: res.status, body: await res.json() }
        } catch {
          return undefined // the gateway went away mid-request: the outcome is unknown
        }
      }
      /** The call, re-signed and retried until it is answered with no 5xx and no stale timestamp (a moved replay epoch). */
      const settled = async (credentials: RuntimeCredentials, method: string, url: string, body?: object, extraHeaders: Record<string, string> = {}): Promise<Answer> => {
        for (let attempt = 0; attempt < 300; attempt++) {
          const res = await call(credentials, method, url, body, extraHeaders)
          if (res !== undefined && res.status < 500 && !(res.status === 401 && res.body.reason === 'stale_timestamp')) return res
          await new Promise((r) => setTimeout(r, 100))
        }
        throw new Error(`${method} ${url} never settled`)
      }

      for (const id of ['alpha', 'beta']) expect((await operator('POST', '/v1/mechas', { id })).status).toBe(201)
      const issue = async (mecha: string): Promise<RuntimeCredentials> => {
        const issued = (await operator('POST', `/v1/mechas/${mecha}/keys`, { rate_limit: null })).body
        return { keyId: issued.key.id, token: issued.token }
      }
      const sender = await issue('alpha')
      const reader = await issue('beta')

      /** Every send's Idempotency-Key and, once a 202 named it, the message id. */
      const accepted = new Map<string, string>()
      const unsure = new Set<string>() // keys whose send may or may not have been stored
      const acked = new Set<string>()
      const ackUnsure = new Set<string>()
      let sent = 0
      const send = async (): Promise<void> => {
        const key = `crash-${sent++}`
        const res = await call(sender, 'POST', '/v1/messages', { to: 'beta', kind: 'k', payload: { key }, receipts: false }, { 'idempotency-key': key })
        if (res?.status === 202) accepted.set(key, res.body.id)
        else unsure.add(key)
      }
      const work = async (): Promise<void> => {
        const res = await call(reader, 'GET', '/v1/inbox?limit=5')
        if (res?.status !== 200) return
        for (const message of res.body.messages as { id: string }[]) {
          const roll = Math.random()
          if (roll < 0.5) {
            const ack = await call(reader, 'POST', '/v1/inbox/ack', { ids: [message.id] })
            if (ack?.status === 200 && ack.body.acknowledged === 1) acked.add(message.id)
            else ackUnsure.add(message.id)
          } else if (roll < 0.7) {
            await call(reader, 'POST', '/v1/inbox/nack', { ids: [message.id], delay_seconds: 0 })
          } else if (roll < 0.8) {
            await call(reader, 'POST', '/v1/inbox/reject', { ids: [message.id], reason: 'test' })
          } // else: left to time out (and, past max_deliveries, dead-lettered)
        }
      }

      for (let round = 0; round < ROUNDS; round++) {
        const crashAt = Math.floor(Math.random() * OPS_PER_ROUND)
        const ops: Promise<void>[] = []
        for (let op = 0; op < OPS_PER_ROUND; op++) {
          if (op === crashAt) {
            svc.child.kill('SIGKILL')
            await svc.exited
            if (round % 2 === 1) await backing.crash?.()
          }
          ops.push(Math.random() < 0.5 ? send() : work())
          if (op % 4 === 3) await Promise.all(ops.splice(0))
          if (op === crashAt) {
            await Promise.all(ops.splice(0))
            svc = await spawnService(env, cwd, 30_000)
          }
        }
        await Promise.all(ops)
      }

      // Every unsure send is retried with its key: the first acceptance, or a first storage now.
      for (const key of unsure) {
        const res = await settled(sender, 'POST', '/v1/messages', { to: 'beta', kind: 'k', payload: { key }, receipts: false }, { 'idempotency-key': key })
        expect(res.status, JSON.stringify(res.body)).toBe(202)
        accepted.set(key, res.body.id)
      }
      // An ack whose answer was lost is sent again: 1 if it had not applied, 0 if it had (or the message moved on).
      for (const id of ackUnsure) {
        const res = await settled(reader, 'POST', '/v1/inbox/ack', { ids: [id] })
        if (res.body.acknowledged === 1) acked.add(id)
      }

      // Drain: what is left in the inbox is read and acknowledged, until it stays empty past the visibility timeout.
      let empty = 0
      while (empty < 3) {
        const res = await settled(reader, 'GET', '/v1/inbox?limit=100&wait=2')
        const ids = (res.body.messages as { id: string }[]).map((m) => m.id)
        if (ids.length === 0) {
          empty++
          continue
        }
        empty = 0
        const ack = await settled(reader, 'POST', '/v1/inbox/ack', { ids })
        expect(ack.body.acknowledged, 'a message read is acknowledged').toBe(ids.length)
        for (const id of ids) {
          expect(acked.has(id), `${id} acknowledged earlier and delivered again after its ack`).toBe(false)
          acked.add(id)
        }
      }
      const dead = new Set<string>()
      for (let after: string | null | undefined; ;) {
        const res = await settled(reader, 'GET', `/v1/inbox/dead?limit=100${after !== undefined && after !== null ? `&after=${after}` : ''}`)
        for (const letter of res.body.dead_letters as { message: { id: string } }[]) {
          expect(dead.has(letter.message.id), `${letter.message.id} twice in the dead letters`).toBe(false)
          dead.add(letter.message.id)
        }
        after = res.body.next
        if (after === null) break
      }

      const ids = [...accepted.values()]
      expect(new Set(ids).size, 'one id per Idempotency-Key').toBe(ids.length)
      expect(ids.length).toBeGreaterThan(0)
      for (const id of ids) {
        const places = [acked.has(id), dead.has(id)].filter(Boolean).length
        expect(places, `${id}: acknowledged ${acked.has(id)}, dead-lettered ${dead.has(id)}`).toBe(1)
      }
      // Nothing else is anywhere: no message the sender was not told about.
      for (const id of [...acked, ...dead]) expect(ids, `${id} is no accepted message`).toContain(id)
      svc.child.kill('SIGKILL')
      await svc.exited
      await backing.close()
    }, 600_000)
  })
}

crashSuite('embedded store (LMDB), the gateway killed', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mecharim-crash-data-'))
  return { env: { MECHA_DATA_DIR: dataDir }, async close() { rmSync(dataDir, { recursive: true, force: true }) } }
})

describeWithRedis('on Redis', () => {
  crashSuite('Redis with AOF (fsync always), the gateway and Redis killed', async () => {
    const redis: RedisHandle = await startRedis({ persist: true })
    return {
      env: { REDIS_URL: redis.url },
      async crash() {
        await redis.kill()
        await redis.restart()
      },
      close: () => redis.stop(),
    }
  })
})
