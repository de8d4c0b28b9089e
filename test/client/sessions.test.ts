import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  MechaError, type MechaClient, type MechaConnection, type MechaCredentials, type MechaSession, type Message, type SessionFanOutAccepted, type SessionMessageAccepted,
} from '../../src/client/index.js'
import { admin } from '../helpers/app.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { sdkHarness, type SdkHarness } from './harness.js'

/**
 * Issue 13's decision session through the SDK against a real gateway (real HTTP, on the embedded
 * store and on a real redis-server): three mechas, three keys of three kinds, one session object.
 * Each call's credentials resolve method `auth` > session `auth` > client, and the gateway's `from`
 * on every delivered message says which key a call really used. Lead and ben read by long-poll, ann
 * over the SDK's WebSocket (connect() with her own auth).
 */

async function rejection(promise: Promise<unknown>): Promise<MechaError> {
  const error = await promise.then(() => undefined, (err: unknown) => err)
  expect(error).toBeInstanceOf(MechaError)
  return error as MechaError
}

const summary = (messages: readonly Message[]): [string, string][] => messages.map((m) => [m.kind, m.from])

/** What a WebSocket connection delivered, acknowledged as it came; `take(n)` waits for n more. */
interface Pushed {
  take(count: number): Promise<Message[]>
  close(): void
}

function collect(connection: MechaConnection): Pushed {
  const messages: Message[] = []
  let taken = 0
  let wake: (() => void) | undefined
  let failure: unknown
  void (async () => {
    try {
      for await (const message of connection) {
        messages.push(message)
        await message.ack()
        wake?.()
      }
    } catch (err) {
      failure = err
      wake?.()
    }
  })()
  return {
    async take(count) {
      while (messages.length < taken + count && failure === undefined) await new Promise<void>((resolve) => { wake = resolve })
      if (failure !== undefined) throw failure
      const next = messages.slice(taken, taken + count)
      taken += count
      return next
    },
    close: () => connection.close(),
  }
}

function decisionSuite(name: string, env: () => Record<string, string>): void {
  describe(`sessions through the SDK (${name})`, () => {
    let h: SdkHarness
    let lead: MechaCredentials
    let ann: MechaCredentials
    let ben: MechaCredentials
    let outsider: MechaCredentials
    /** The client's own credentials are ben's: the level a call falls back to last. */
    let client: MechaClient
    let annSocket: Pushed

    beforeAll(async () => {
      h = await sdkHarness(env())
      lead = await h.runtime('lead', 'hmac-sha256')
      ann = await h.runtime('ann', 'ed25519')
      ben = await h.runtime('ben', 'token')
      outsider = await h.runtime('outsider', 'token')
      client = h.client(ben)
      const put = await h.t.app.inject({ method: 'PUT', url: '/v1/modes/decision.v1', headers: admin, payload: { kinds: ['proposal', 'vote', 'commit'], version: 1 } })
      expect(put.statusCode).toBe(201)
      const connection = client.connect({ auth: ann, reconnect: false })
      await connection.ready
      annSocket = collect(connection)
    })
    afterAll(async () => {
      annSocket?.close()
      await h?.close()
    })

    /** Everything in a mecha's inbox now, acknowledged; waits (long-poll) only while fewer than `count` came. */
    async function takeInbox(credentials: MechaCredentials, count: number): Promise<Message[]> {
      if (credentials === ann) return annSocket.take(count)
      const taken: Message[] = []
      for (let polls = 0; polls < 10 && taken.length < count; polls++) {
        const messages = await client.inbox({ wait: taken.length === 0 ? 2 : 1, limit: 100 }, { auth: credentials })
        if (messages.length === 0) continue
        taken.push(...messages)
        await client.ack(messages.map((m) => m.id), { auth: credentials })
      }
      return taken
    }

    describe('a decision session: three mechas, three keys, one SDK session object', () => {
      let session: MechaSession

      it('startSession with the initiator\'s auth: lead starts it, every participant is sent session.started', async () => {
        session = await client.startSession({ mode: 'decision.v1', participants: ['ann', 'ben'], intent: 'ship on friday?', ttlSeconds: 600 }, { auth: lead })
        expect(session.id).toMatch(/^ses_[0-9a-z]{26}$/)
        expect(session.view).toMatchObject({ id: session.id, mode: 'decision.v1', kinds: ['proposal', 'vote', 'commit'], initiator: 'lead', participants: ['ann', 'ben', 'lead'], state: 'open', intent: 'ship on friday?' })
        for (const who of [lead, ann, ben]) {
          const started = await takeInbox(who, 1)
          expect(summary(started)).toEqual([['session.started', 'lead']])
          expect(started[0]).toMatchObject({ session: session.id, payload: { id: session.id, initiator: 'lead' } })
        }
      })

      it('the session\'s auth by default (lead), a method\'s auth for each vote (ann, ben): the gateway sees three senders', async () => {
        const proposal = await session.send({ kind: 'proposal', payload: { ship: 'friday' } }) as SessionFanOutAccepted
        expect(proposal).toMatchObject({ session: session.id, from: 'lead', kind: 'proposal' })
        expect(proposal.messages.map((m) => m.to).sort()).toEqual(['ann', 'ben'])
        expect(new Set(proposal.messages.map((m) => m.id)).size).toBe(2)

        const annVote = await session.send({ kind: 'vote', payload: 'yes' }, { auth: ann }) as SessionFanOutAccepted
        expect(annVote).toMatchObject({ from: 'ann' })
        expect(annVote.messages.map((m) => m.to).sort()).toEqual(['ben', 'lead'])
        const benVote = await session.send({ to: 'lead', kind: 'vote', payload: 'yes' }, { auth: ben }) as SessionMessageAccepted
        expect(benVote).toMatchObject({ session: session.id, from: 'ben', to: 'lead', kind: 'vote' })

        expect(summary(await takeInbox(lead, 2)).sort()).toEqual([['vote', 'ann'], ['vote', 'ben']])
        expect(summary(await takeInbox(ann, 1))).toEqual([['proposal', 'lead']])
        const benInbox = await takeInbox(ben, 2)
        expect(summary(benInbox).sort()).toEqual([['proposal', 'lead'], ['vote', 'ann']])
        expect(benInbox.every((m) => m.session === session.id)).toBe(true)
      })

      it('a non-participant\'s key is refused (not_a_participant) and cannot read the session (unknown_session)', async () => {
        const refused = await rejection(session.send({ kind: 'vote', payload: 'no' }, { auth: outsider }))
        expect(refused).toMatchObject({ status: 403, reason: 'not_a_participant' })
        expect(await rejection(session.info({ auth: outsider }))).toMatchObject({ status: 404, reason: 'unknown_session' })
        expect((await session.info()).participants).toEqual(['ann', 'ben', 'lead'])
      })

      it('a kind outside the mode is refused (kind_not_in_mode)', async () => {
        expect(await rejection(session.send({ kind: 'chat', payload: 'hi' }, { auth: ann }))).toMatchObject({ status: 403, reason: 'kind_not_in_mode' })
      })

      it('a participant who is not the initiator cannot commit (not_session_initiator); the initiator\'s commit reaches every participant', async () => {
        expect(await rejection(session.commit({ outcome: 'friday' }, { auth: ann }))).toMatchObject({ status: 403, reason: 'not_session_initiator' })
        // Ben's through the client's credentials: a session object attached by id, with no auth of its own.
        expect(await rejection(client.session(session.id).commit({ outcome: 'friday' }))).toMatchObject({ status: 403, reason: 'not_session_initiator' })
        const committed = await session.commit({ outcome: { ship: 'friday' }, reason: 'two votes, both yes' })
        expect(committed).toMatchObject({ id: session.id, state: 'committed', outcome: { ship: 'friday' }, reason: 'two votes, both yes' })
        expect(session.view?.state).toBe('committed')
        for (const who of [lead, ann, ben]) {
          const closed = await takeInbox(who, 1)
          expect(summary(closed)).toEqual([['session.committed', 'lead']])
          expect(closed[0]).toMatchObject({ session: session.id, payload: { state: 'committed', outcome: { ship: 'friday' } } })
        }
      })

      it('after the commit, messages are refused (session_closed) and so is a cancel', async () => {
        expect(await rejection(session.send({ kind: 'vote', payload: 'late' }, { auth: ann }))).toMatchObject({ status: 409, reason: 'session_closed' })
        expect(await rejection(session.cancel())).toMatchObject({ status: 409, reason: 'session_closed' })
      })

      it('each participant reads it through its own credentials: getSession, sessions, client.session(id)', async () => {
        expect(await client.getSession(session.id)).toMatchObject({ state: 'committed', initiator: 'lead' })
        expect((await client.session(session.id, { auth: ann }).info()).state).toBe('committed')
        const page = await client.sessions({ state: 'closed' }, { auth: lead })
        expect(page.sessions.map((s) => s.id)).toContain(session.id)
        expect((await client.sessions({ state: 'open' })).sessions.map((s) => s.id)).not.toContain(session.id)
        expect((await client.sessions({ state: 'all' }, { auth: outsider })).sessions).toEqual([])
      })
    })

    describe('cancel', () => {
      it('the initiator cancels through the client\'s own credentials; participants get session.cancelled', async () => {
        const benSession = await client.startSession({ mode: 'decision.v1', participants: ['ann'], ttlSeconds: 60 })
        expect(benSession.view?.initiator).toBe('ben')
        expect(summary(await takeInbox(ann, 1))).toEqual([['session.started', 'ben']])
        expect(summary(await takeInbox(ben, 1))).toEqual([['session.started', 'ben']])
        const cancelled = await benSession.cancel({ reason: 'no longer needed' })
        expect(cancelled).toMatchObject({ state: 'cancelled', reason: 'no longer needed', outcome: null })
        expect(summary(await takeInbox(ann, 1))).toEqual([['session.cancelled', 'ben']])
        expect(summary(await takeInbox(ben, 1))).toEqual([['session.cancelled', 'ben']])
      })
    })
  })
}

decisionSuite('embedded store', () => ({}))

let redis: RedisHandle | undefined
describeWithRedis('on Redis', () => {
  beforeAll(async () => { redis = await startRedis() })
  afterAll(async () => { await redis?.stop() })
  decisionSuite('redis', () => ({ REDIS_URL: (redis as RedisHandle).url }))
})
