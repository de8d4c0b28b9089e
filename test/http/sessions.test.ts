import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { freshNonce, runtimeHeaders } from '../helpers/runtime.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

const decision = { kinds: ['proposal', 'vote', 'commit'], description: 'Propose, vote, commit.', version: 1 }

interface Socket { socket: WebSocket; frames: any[] }

/**
 * The session routes end to end over real HTTP, with deliveries read over a real WebSocket (carol)
 * and long-poll (alice, bob), on the embedded store and on a real redis-server.
 */
function sessionSuite(name: string, env: () => Record<string, string>): void {
  describe(`sessions (${name})`, () => {
    let h: GatewayHarness
    let alice: IssuedRuntime
    let bob: IssuedRuntime
    let carol: IssuedRuntime
    let mallory: IssuedRuntime
    let carolSocket: Socket

    const start = (credentials: IssuedRuntime, body: object) => h.call({ method: 'POST', url: '/v1/sessions', body: JSON.stringify(body), credentials })
    const commit = (credentials: IssuedRuntime, id: string, body: object) => h.call({ method: 'POST', url: `/v1/sessions/${id}/commit`, body: JSON.stringify(body), credentials })
    const cancel = (credentials: IssuedRuntime, id: string, body: object = {}) => h.call({ method: 'POST', url: `/v1/sessions/${id}/cancel`, body: JSON.stringify(body), credentials })
    const show = (credentials: IssuedRuntime, id: string) => h.call({ method: 'GET', url: `/v1/sessions/${id}`, credentials })
    const inbox = async (credentials: IssuedRuntime): Promise<any[]> => {
      const res = await h.call({ method: 'GET', url: '/v1/inbox?limit=100', credentials })
      expect(res.status).toBe(200)
      const ids = res.body.messages.map((m: { id: string }) => m.id)
      if (ids.length > 0) await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids }), credentials })
      return res.body.messages
    }
    const openSocket = (credentials: IssuedRuntime): Promise<Socket> => {
      const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials, authority: h.t.config.publicAuthority })
      const socket = new WebSocket(`${h.base.replace('http', 'ws')}/v1/connect`, { headers })
      const frames: any[] = []
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString())
        frames.push(frame)
        if (frame.type === 'message') socket.send(JSON.stringify({ type: 'ack', ids: [frame.message.id] }))
      })
      return new Promise((resolve, reject) => {
        socket.once('open', () => resolve({ socket, frames }))
        socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
      })
    }
    const pushed = (kind: string) => carolSocket.frames.filter((f) => f.type === 'message' && f.message.kind === kind).map((f) => f.message)

    beforeAll(async () => {
      h = await gatewayHarness(env())
      for (const id of ['alice', 'bob', 'carol', 'mallory']) await h.register(id)
      expect((await h.t.app.inject({ method: 'PUT', url: '/v1/modes/decision.v1', headers: admin, payload: decision })).statusCode).toBe(201)
      alice = await h.issue('alice', { signature: { algorithms: ['hmac-sha256', 'ed25519'] } })
      bob = await h.issue('bob')
      carol = await h.issue('carol')
      mallory = await h.issue('mallory')
      carolSocket = await openSocket(carol)
    })
    afterAll(async () => {
      carolSocket?.socket.close()
      await h?.close()
    })

    it('a three-mecha decision: start, votes, a refused outsider and non-initiator, the commit told to all, then closed', async () => {
      const started = await start(alice, { mode: 'decision.v1', participants: ['bob', 'carol'], intent: 'pick a plan', ttl_seconds: 600 })
      expect(started.status).toBe(201)
      const session = started.body
      expect(session).toMatchObject({
        mode: 'decision.v1', kinds: decision.kinds, initiator: 'alice', participants: ['alice', 'bob', 'carol'], intent: 'pick a plan',
        state: 'open', outcome: null, closed_at: null,
      })
      expect(session.id).toMatch(/^ses_[0-9a-z]{26}$/)
      expect(started.headers.get('location')).toBe(`/v1/sessions/${session.id}`)
      expect(session).not.toHaveProperty('initiator_key')

      // Every participant, the initiator included, is told (carol over the socket).
      for (const who of [alice, bob]) {
        const told = (await inbox(who)).filter((m) => m.kind === 'session.started')
        expect(told.map((m) => [m.from, m.session, m.payload.id])).toEqual([['alice', session.id, session.id]])
      }
      await expect.poll(() => pushed('session.started').map((m) => m.session)).toEqual([session.id])

      // The proposal to every other participant: one message each, its own id.
      const proposal = await h.send(alice, { session: session.id, kind: 'proposal', payload: { plan: 'A' } }, { auth: 'hmac-sha256' })
      expect(proposal.status).toBe(202)
      expect(proposal.body).toMatchObject({ session: session.id, from: 'alice', kind: 'proposal' })
      expect(proposal.body.messages.map((m: { to: string }) => m.to)).toEqual(['bob', 'carol'])
      expect(new Set(proposal.body.messages.map((m: { id: string }) => m.id)).size).toBe(2)
      expect((await inbox(bob)).map((m) => [m.kind, m.session, m.payload])).toEqual([['proposal', session.id, { plan: 'A' }]])
      await expect.poll(() => pushed('proposal').length).toBe(1)

      // Votes, each from its own key: bob to alice only, carol to everyone.
      const bobVote = await h.send(bob, { session: session.id, to: 'alice', kind: 'vote', payload: 'yes' })
      expect(bobVote.status).toBe(202)
      expect(bobVote.body).toMatchObject({ from: 'bob', to: 'alice', session: session.id })
      expect((await h.send(carol, { session: session.id, kind: 'vote', payload: 'yes' })).status).toBe(202)
      const aliceGot = await inbox(alice)
      expect(aliceGot.filter((m) => m.kind === 'vote').map((m) => m.from).sort()).toEqual(['bob', 'carol'])

      // An outsider can neither send nor see it.
      const outsider = await h.send(mallory, { session: session.id, to: 'alice', kind: 'vote', payload: 'no' })
      expect([outsider.status, outsider.body.reason]).toEqual([403, 'not_a_participant'])
      expect((await show(mallory, session.id)).body.reason).toBe('unknown_session')
      expect((await commit(mallory, session.id, { outcome: 'B' })).body.reason).toBe('unknown_session')
      // A participant may not send to an outsider within it, nor a kind outside the mode.
      expect((await h.send(bob, { session: session.id, to: 'mallory', kind: 'vote', payload: 1 })).body.reason).toBe('not_a_participant')
      expect((await h.send(bob, { session: session.id, to: 'alice', kind: 'chat', payload: 1 })).body.reason).toBe('kind_not_in_mode')

      // Only the initiator commits.
      const early = await commit(bob, session.id, { outcome: 'B' })
      expect([early.status, early.body.reason]).toEqual([403, 'not_session_initiator'])
      const committed = await commit(alice, session.id, { outcome: { plan: 'A' }, reason: 'unanimous' })
      expect(committed.status).toBe(200)
      expect(committed.body).toMatchObject({ state: 'committed', outcome: { plan: 'A' }, reason: 'unanimous' })
      expect(committed.body.closed_at).not.toBeNull()
      for (const who of [alice, bob]) {
        expect((await inbox(who)).filter((m) => m.kind === 'session.committed').map((m) => m.payload.outcome)).toEqual([{ plan: 'A' }])
      }
      await expect.poll(() => pushed('session.committed').length).toBe(1)

      // Repeating the same commit answers it again without telling anyone twice; another is refused.
      expect((await commit(alice, session.id, { outcome: { plan: 'A' }, reason: 'unanimous' })).status).toBe(200)
      expect((await inbox(bob)).filter((m) => m.kind === 'session.committed')).toEqual([])
      expect((await commit(alice, session.id, { outcome: 'B' })).body.reason).toBe('session_closed')
      expect((await cancel(alice, session.id)).body.reason).toBe('session_closed')

      // After the commit: no more messages.
      const late = await h.send(bob, { session: session.id, to: 'alice', kind: 'vote', payload: 'late' })
      expect([late.status, late.body.reason]).toEqual([409, 'session_closed'])
      expect((await show(carol, session.id)).body).toMatchObject({ state: 'committed', outcome: { plan: 'A' } })
      const listed = await h.call({ method: 'GET', url: '/v1/sessions?state=closed', credentials: carol })
      expect(listed.body.sessions.map((s: { id: string }) => s.id)).toContain(session.id)
      const open = await h.call({ method: 'GET', url: '/v1/sessions?state=open', credentials: carol })
      expect(open.body.sessions.map((s: { id: string }) => s.id)).not.toContain(session.id)
    })

    it('cancel by the initiator tells every participant', async () => {
      const { body: session } = await start(bob, { mode: 'decision.v1', participants: ['alice'], ttl_seconds: 600 })
      await inbox(alice)
      await inbox(bob)
      const cancelled = await cancel(bob, session.id, { reason: 'changed my mind' })
      expect(cancelled.body).toMatchObject({ state: 'cancelled', reason: 'changed my mind' })
      expect((await inbox(alice)).map((m) => [m.kind, m.session])).toEqual([['session.cancelled', session.id]])
    })

    it('an expired session refuses messages and its participants are told', async () => {
      const { body: session } = await start(bob, { mode: 'decision.v1', participants: ['alice'], ttl_seconds: 10 })
      await inbox(alice)
      // Ten seconds are the shortest session: wait for the sweeper's notice (no timing asserted).
      await expect.poll(async () => (await inbox(alice)).filter((m) => m.kind === 'session.expired').map((m) => m.session), { timeout: 30_000, interval: 500 }).toEqual([session.id])
      // Closed at its expiry, before and after the sweeper closed it: the view does not change.
      expect((await show(alice, session.id)).body).toMatchObject({ state: 'expired', reason: 'ttl', closed_at: session.expires_at })
      expect((await h.send(alice, { session: session.id, to: 'bob', kind: 'vote', payload: 1 })).body.reason).toBe('session_closed')
      expect((await commit(bob, session.id, { outcome: 1 })).body.reason).toBe('session_closed')
    }, 45_000)

    it('session permissions: can_start, modes, unknown modes, recipients; nothing started', async () => {
      const noStart = await h.issue('bob', { permissions: { sessions: { can_start: false } } })
      const onlyVotes = await h.issue('bob', { permissions: { sessions: { modes: ['vote.*'] } } })
      const narrow = await h.issue('bob', { permissions: { recipients: ['alice'] } })
      const body = { mode: 'decision.v1', participants: ['alice', 'carol'], ttl_seconds: 60 }
      expect((await start(noStart, body)).body.reason).toBe('cannot_start_sessions')
      expect((await start(onlyVotes, body)).body.reason).toBe('mode_not_allowed')
      expect((await start(bob, { ...body, mode: 'nosuch.v1' })).body.reason).toBe('unknown_mode')
      expect((await start(narrow, body)).body.reason).toBe('recipient_not_allowed')
      expect((await start(bob, { ...body, participants: ['alice', 'nobody'] })).body.reason).toBe('unknown_recipient')
      expect((await start(bob, { ...body, participants: ['bob'] })).body.reason).toBe('invalid_request')
      // 32 listed without the caller: 33 with it, one over the bound, refused as the request it is.
      const crowd = Array.from({ length: 32 }, (_, i) => `crowd-${i}`)
      for (const id of crowd) await h.register(id)
      const tooMany = await start(bob, { ...body, participants: crowd })
      expect([tooMany.status, tooMany.body.reason]).toEqual([400, 'invalid_request'])
      // None of them started anything: carol is in no session bob started.
      const carolOpen = (await h.call({ method: 'GET', url: '/v1/sessions?state=open', credentials: carol })).body.sessions
      expect(carolOpen.filter((s: { initiator: string }) => s.initiator === 'bob')).toEqual([])
    })

    it('max_open counts the key\'s open sessions; closing one makes room', async () => {
      const limited = await h.issue('carol', { permissions: { sessions: { max_open: 2 } } })
      const body = { mode: 'decision.v1', participants: ['alice'], ttl_seconds: 600 }
      const results = await Promise.all(Array.from({ length: 6 }, () => start(limited, body)))
      expect(results.map((r) => r.status).sort()).toEqual([201, 201, 429, 429, 429, 429])
      const refused = results.find((r) => r.status === 429)
      expect(refused?.body.reason).toBe('too_many_open_sessions')
      // Retry-After: when the earliest open session expires at the latest (600 s here).
      expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(Number(refused?.headers.get('retry-after'))).toBeLessThanOrEqual(600)
      const first = results.find((r) => r.status === 201)?.body
      expect((await commit(limited, first.id, { outcome: 'done' })).status).toBe(200)
      expect((await start(limited, body)).status).toBe(201)
      expect((await start(limited, body)).status).toBe(429)
    })

    it('Idempotency-Keys starting session: are the gateway\'s: a runtime may not silence a notification with one', async () => {
      const { body: session } = await start(alice, { mode: 'decision.v1', participants: ['bob'], ttl_seconds: 600 })
      await inbox(bob)
      const sneaky = await h.send(alice, { session: session.id, to: 'bob', kind: 'vote', payload: 1 }, { extraHeaders: { 'idempotency-key': `session:${session.id}:committed` } })
      expect([sneaky.status, sneaky.body.reason]).toEqual([400, 'invalid_request'])
      expect((await commit(alice, session.id, { outcome: 'ok' })).status).toBe(200)
      expect((await inbox(bob)).map((m) => m.kind)).toEqual(['session.committed'])
    })

    it('every participant, the initiator too, must accept session notifications', async () => {
      await h.register('picky', { accepts: ['task.*'] })
      const picky = await h.issue('picky')
      expect((await start(picky, { mode: 'decision.v1', participants: ['bob'], ttl_seconds: 60 })).body.reason).toBe('kind_not_allowed')
      expect((await start(bob, { mode: 'decision.v1', participants: ['picky'], ttl_seconds: 60 })).body.reason).toBe('kind_not_allowed')
    })

    it('kinds session.* are the gateway\'s: a runtime may not send them; a refused session message records its nonce', async () => {
      const sent = await h.send(bob, { to: 'alice', kind: 'session.committed', payload: {} })
      expect([sent.status, sent.body.reason]).toEqual([400, 'invalid_request'])
      const nonce = freshNonce()
      const unknown = await h.send(bob, { session: 'ses_0000000000000000000000000a', to: 'alice', kind: 'vote', payload: 1 }, { nonce })
      expect([unknown.status, unknown.body.reason]).toEqual([404, 'unknown_session'])
      expect((await h.send(bob, { session: 'ses_0000000000000000000000000a', to: 'alice', kind: 'vote', payload: 1 }, { nonce })).body.reason).toBe('replayed_nonce')
    })
  })
}

sessionSuite('embedded store', () => ({}))

let redis: RedisHandle | undefined
describeWithRedis('on Redis', () => {
  beforeAll(async () => { redis = await startRedis() })
  afterAll(async () => { await redis?.stop() })
  sessionSuite('redis', () => ({ REDIS_URL: (redis as RedisHandle).url }))
})
