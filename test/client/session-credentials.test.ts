import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { credentialsForCall, resolveCredentials } from '../../src/client/credentials.js'
import { MechaClient, type MechaCredentials, type SessionView } from '../../src/client/index.js'

/**
 * Which key each call of a session object authenticates with: method `auth` > session `auth` >
 * client (the MACP SDK's order). The gateway's session routes are not needed to see that: a small
 * HTTP server on 127.0.0.1 records the key id of every request's token and answers as the gateway
 * would. The same order end to end, through the gateway, is in test/client/sessions.test.ts.
 */

const SESSION_ID = 'ses_01jdxk3q4r5s6t7v8w9x0yz123'
const key = (letter: string): string => `mk${letter.repeat(24)}`
const token = (letter: string): string => `mecha_${key(letter)}_${letter.repeat(52)}_${letter.repeat(7)}`
const CLIENT: MechaCredentials = { token: token('c') }
const INITIATOR: MechaCredentials = { token: token('i') }
const ALICE: MechaCredentials = { token: token('a') }
const BOB: MechaCredentials = { token: token('b') }

interface Seen { method: string; path: string; keyId: string | undefined; body: unknown }

let server: Server
let url: string
const seen: Seen[] = []

function view(state: SessionView['state'] = 'open'): SessionView {
  return {
    id: SESSION_ID, mode: 'decision.v1', kinds: ['proposal', 'vote'], initiator: 'initiator', participants: ['alice', 'bob', 'initiator'],
    intent: null, state, outcome: null, reason: null, created_at: '2026-12-02T04:00:00.000Z', expires_at: '2026-12-02T05:00:00.000Z', closed_at: null,
  }
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text === '' ? undefined : JSON.parse(text) as unknown
}

beforeAll(async () => {
  server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request)
      const path = request.url ?? ''
      const keyId = /^Mecha mecha_(mk[a-z2-7]{24})_/.exec(request.headers.authorization ?? '')?.[1]
      seen.push({ method: request.method ?? '', path, keyId, body })
      const answer = (status: number, json: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json))
      }
      if (request.method === 'POST' && path === '/v1/sessions') return answer(201, view())
      if (request.method === 'POST' && path === '/v1/messages') {
        return answer(202, { session: SESSION_ID, from: 'x', kind: 'vote', accepted_at: '2026-12-02T04:00:01.000Z', messages: [{ id: 'msg_1', to: 'bob' }] })
      }
      if (path.startsWith('/v1/sessions?') || path === '/v1/sessions') return answer(200, { sessions: [view()], next: null })
      if (path.endsWith('/commit')) return answer(200, view('committed'))
      if (path.endsWith('/cancel')) return answer(200, view('cancelled'))
      if (path === `/v1/sessions/${SESSION_ID}`) return answer(200, view())
      return answer(404, { type: 'x', title: 'x', status: 404, code: 'NOT_FOUND', reason: 'route_not_found', detail: path, request_id: 'req_1' })
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/** The key ids of the requests `calls` makes, in order. */
async function keysOf(calls: () => Promise<unknown>): Promise<(string | undefined)[]> {
  const from = seen.length
  await calls()
  return seen.slice(from).map((s) => s.keyId)
}

describe('credentialsForCall: method > session > client', () => {
  const [method, session, client] = [ALICE, BOB, CLIENT].map((c) => resolveCredentials(c, 'auth')) as [ReturnType<typeof resolveCredentials>, ReturnType<typeof resolveCredentials>, ReturnType<typeof resolveCredentials>]
  it.each([
    ['all three', method, session, method],
    ['session and client', undefined, session, session],
    ['client only', undefined, undefined, client],
    ['method and client', method, undefined, method],
  ])('%s', (_, m, s, expected) => {
    expect(credentialsForCall(m, s, client)).toBe(expected)
  })
})

describe('a session object\'s calls', () => {
  const client = (): MechaClient => new MechaClient({ url, ...CLIENT })

  it('startSession with auth: the start and every later call use it, unless the call gives its own', async () => {
    const c = client()
    let session = undefined as Awaited<ReturnType<MechaClient['startSession']>> | undefined
    expect(await keysOf(async () => { session = await c.startSession({ mode: 'decision.v1', participants: ['alice', 'bob'], ttlSeconds: 600 }, { auth: INITIATOR }) })).toEqual([key('i')])
    if (session === undefined) throw new Error('no session')
    const s = session
    expect(s.id).toBe(SESSION_ID)
    expect(s.view?.state).toBe('open')
    expect(await keysOf(async () => {
      await s.info()
      await s.send({ kind: 'vote', payload: { choice: 'yes' } }, { auth: ALICE })
      await s.send({ kind: 'vote', payload: { choice: 'no' } }, { auth: BOB })
      await s.send({ to: 'alice', kind: 'proposal', payload: 1 })
      await s.commit({ outcome: { decided: 'yes' } })
    })).toEqual([key('i'), key('a'), key('b'), key('i'), key('i')])
    expect(s.view?.state).toBe('committed')
    // The client's own calls are not the session's: they still use the client's key.
    expect(await keysOf(() => c.whoami().catch(() => undefined))).toEqual([key('c')])
  })

  it('startSession without auth: the client\'s key for everything but calls with their own', async () => {
    const s = await client().startSession({ mode: 'decision.v1', participants: ['alice'], ttlSeconds: 60 })
    expect(await keysOf(async () => {
      await s.info()
      await s.send({ kind: 'vote', payload: null }, { auth: ALICE })
      await s.cancel({ reason: 'changed our minds' })
    })).toEqual([key('c'), key('a'), key('c')])
  })

  it('client.session(id, {auth}) attaches without a request; its calls use the session auth, a method auth wins', async () => {
    const c = client()
    const before = seen.length
    const bob = c.session(SESSION_ID, { auth: BOB })
    const plain = c.session(SESSION_ID)
    expect(seen.length).toBe(before)
    expect(bob.view).toBeUndefined()
    expect(await keysOf(async () => {
      await bob.send({ kind: 'vote', payload: 'bob' })
      await bob.send({ kind: 'vote', payload: 'alice' }, { auth: ALICE })
      await plain.info()
      await plain.info({ auth: BOB })
    })).toEqual([key('b'), key('a'), key('c'), key('b')])
    expect(bob.id).toBe(plain.id)
  })

  it('client.sessions and client.getSession take a per-call auth like every client call', async () => {
    const c = client()
    expect(await keysOf(async () => {
      expect((await c.sessions({ state: 'open', limit: 10 })).sessions).toHaveLength(1)
      expect((await c.getSession(SESSION_ID, { auth: ALICE })).id).toBe(SESSION_ID)
    })).toEqual([key('c'), key('a')])
    expect(seen.at(-2)?.path).toBe('/v1/sessions?state=open&limit=10')
  })

  it('sends the wire bodies of the spec', async () => {
    const c = client()
    const from = seen.length
    const s = await c.startSession({ mode: 'decision.v1', participants: ['alice', 'bob'], intent: 'pick a release day', ttlSeconds: 120 })
    await s.send({ to: 'bob', kind: 'vote', payload: { day: 'tue' }, replyTo: 'msg_x' })
    await s.commit({ outcome: 'tue', reason: 'unanimous' })
    await s.cancel()
    expect(seen.slice(from).map((r) => [r.method, r.path, r.body])).toEqual([
      ['POST', '/v1/sessions', { mode: 'decision.v1', participants: ['alice', 'bob'], intent: 'pick a release day', ttl_seconds: 120 }],
      ['POST', '/v1/messages', { session: SESSION_ID, to: 'bob', kind: 'vote', payload: { day: 'tue' }, reply_to: 'msg_x' }],
      ['POST', `/v1/sessions/${SESSION_ID}/commit`, { outcome: 'tue', reason: 'unanimous' }],
      ['POST', `/v1/sessions/${SESSION_ID}/cancel`, {}],
    ])
  })
})

describe('misuse fails before any request', () => {
  const c = (): MechaClient => new MechaClient({ url, ...CLIENT })
  it.each([
    ['a bad session id', () => c().session('ses_nope'), /^expected a session id .*, got "ses_nope"$/],
    ['an unknown session option', () => c().session(SESSION_ID, { signal: undefined } as never), /^expected session options among auth, got unknown "signal"$/],
    ['bad session credentials', () => c().session(SESSION_ID, { auth: { token: 'nope' } }), /^expected auth.token as a Mecha token/],
  ])('%s', (_, make, message) => {
    const before = seen.length
    expect(make).toThrow(message)
    expect(seen.length).toBe(before)
  })

  it.each([
    ['no participants', { mode: 'decision.v1', participants: [], ttlSeconds: 60 }, /^expected participants as a non-empty list of mecha ids/],
    ['a fractional ttl', { mode: 'decision.v1', participants: ['a'], ttlSeconds: 1.5 }, /^expected ttlSeconds as a positive whole number of seconds, got 1.5$/],
    ['ttl_seconds spelt the wire way', { mode: 'decision.v1', participants: ['a'], ttl_seconds: 60 }, /^expected session start among mode, participants, intent, ttlSeconds, got unknown "ttl_seconds"$/],
  ])('startSession with %s', async (_, start, message) => {
    const before = seen.length
    await expect(c().startSession(start as never)).rejects.toThrow(message)
    expect(seen.length).toBe(before)
  })

  it('send without a payload, commit without an outcome', async () => {
    const s = c().session(SESSION_ID)
    const before = seen.length
    await expect(s.send({ kind: 'vote' } as never)).rejects.toThrow(/^expected message.payload as a JSON value, got undefined$/)
    await expect(s.commit({} as never)).rejects.toThrow(/^expected outcome as a JSON value, got undefined$/)
    await expect(s.send({ kind: 'vote', payload: 1 }, { auth: { token: 'x' } })).rejects.toThrow(/^expected auth.token/)
    expect(seen.length).toBe(before)
  })
})
