import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MechaClient, MechaError, type MechaCredentials } from '../../src/client/index.js'
import { closedPort } from '../cli/helpers.js'
import { recordingFetch, sdkHarness, type AuthMode, type SdkHarness } from './harness.js'

let h: SdkHarness
beforeAll(async () => {
  h = await sdkHarness()
})
afterAll(async () => {
  await h.close()
})

async function rejection(promise: Promise<unknown>): Promise<MechaError> {
  const error = await promise.then(() => undefined, (err: unknown) => err)
  expect(error).toBeInstanceOf(MechaError)
  return error as MechaError
}

const MODES: { mode: AuthMode; verifiedBy: { token: boolean; signature: string | null } }[] = [
  { mode: 'token', verifiedBy: { token: true, signature: null } },
  { mode: 'hmac-sha256', verifiedBy: { token: false, signature: 'hmac-sha256' } },
  { mode: 'ed25519', verifiedBy: { token: false, signature: 'ed25519' } },
  { mode: 'token+hmac-sha256', verifiedBy: { token: true, signature: 'hmac-sha256' } },
  { mode: 'token+ed25519', verifiedBy: { token: true, signature: 'ed25519' } },
]

describe.each(MODES)('with $mode credentials', ({ mode, verifiedBy }) => {
  const sender = `send-${mode.replace(/\W/g, '-')}`
  const receiver = `recv-${mode.replace(/\W/g, '-')}`
  let senderClient: MechaClient
  let receiverClient: MechaClient

  beforeAll(async () => {
    senderClient = h.client(await h.runtime(sender, mode))
    receiverClient = h.client(await h.runtime(receiver, mode))
  })

  it('whoami names the key and how it was verified', async () => {
    const me = await senderClient.whoami()
    expect(me).toMatchObject({ mecha: sender, key_id: senderClient.keyId, verified_by: verifiedBy })
    expect(Math.abs(me.server_time - Date.now() / 1000)).toBeLessThan(5)
  })

  it('send is accepted (202), the inbox delivers it, ack acknowledges it', async () => {
    const accepted = await senderClient.send({ to: receiver, kind: 'task.create', payload: { n: 1, text: 'héllo ✓' } })
    expect(accepted).toMatchObject({ id: expect.stringMatching(/^msg_/), from: sender, to: receiver, kind: 'task.create' })

    const messages = await receiverClient.inbox({ wait: 2, limit: 10 })
    expect(messages).toHaveLength(1)
    expect(messages[0]).toMatchObject({ id: accepted.id, from: sender, payload: { n: 1, text: 'héllo ✓' }, reply_to: null, delivery_count: 1 })

    expect(await receiverClient.ack([accepted.id])).toEqual({ acknowledged: 1 })
    expect(await receiverClient.ack([accepted.id])).toEqual({ acknowledged: 0 })
  })
})

describe('signatures made by the SDK', () => {
  let credentials: MechaCredentials

  beforeAll(async () => {
    await h.runtime('tamper-target', 'token')
    credentials = await h.runtime('tamperer', 'hmac-sha256', { signature: { required: true } })
  })

  it('verify on the gateway (202) with an idempotency key (covered) and reply_to; a retry returns the first acceptance', async () => {
    const message = { to: 'tamper-target', kind: 'note', payload: [1, 2, 3], idempotencyKey: 'client-key-1', reply_to: 'earlier.1' }
    const accepted = await h.client(credentials).send(message)
    expect(accepted).toMatchObject({ id: expect.stringMatching(/^msg_/), from: 'tamperer' })
    expect(await h.client(credentials).send(message)).toEqual(accepted)
    const reused = await rejection(h.client(credentials).send({ ...message, payload: 'other' }))
    expect(reused).toMatchObject({ status: 409, code: 'CONFLICT', reason: 'idempotency_key_reused' })
  })

  it('refuses a message id before sending: ids are the gateway\'s', async () => {
    const client = h.client(credentials)
    await expect(client.send({ to: 'tamper-target', kind: 'note', payload: 1, id: 'mine' } as never)).rejects.toThrow(/idempotencyKey/)
  })

  it('cover the body bytes: a body changed in flight is refused as bad_digest', async () => {
    const tamper = recordingFetch((init) => {
      init.body = new TextEncoder().encode(new TextDecoder().decode(init.body as Uint8Array).replace('"small"', '"LARGE"'))
    })
    const error = await rejection(h.client(credentials, { fetch: tamper.fetch }).send({ to: 'tamper-target', kind: 'note', payload: 'small' }))
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', reason: 'bad_digest' })
  })

  it('cover the digest: a body and digest both replaced are refused as bad_signature', async () => {
    const tamper = recordingFetch((init) => {
      const body = new TextEncoder().encode('{"to":"tamper-target","kind":"note","payload":"forged"}')
      init.body = body
      init.headers['content-digest'] = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
    })
    const error = await rejection(h.client(credentials, { fetch: tamper.fetch }).send({ to: 'tamper-target', kind: 'note', payload: 'real' }))
    expect(error).toMatchObject({ status: 401, reason: 'bad_signature' })
  })

  it('are bound to the gateway\'s public authority', async () => {
    const error = await rejection(h.client(credentials, { authority: 'elsewhere.example:443' }).whoami())
    expect(error).toMatchObject({ status: 401, reason: 'bad_signature' })
  })

  it('carry a fresh nonce and the current time on every call', async () => {
    const recorder = recordingFetch()
    const client = h.client(credentials, { fetch: recorder.fetch })
    await client.whoami()
    await client.whoami()
    const [first, second] = recorder.calls.map((call) => call.headers)
    expect(first?.['mecha-nonce']).toMatch(/^[A-Za-z0-9_-]{24}$/)
    expect(first?.['mecha-nonce']).not.toBe(second?.['mecha-nonce'])
    expect(Math.abs(Number(first?.['mecha-timestamp']) - Date.now() / 1000)).toBeLessThan(5)
    expect(first?.['signature-input']).toBe(`mecha=("@method" "@authority" "@path" "@query" "mecha-timestamp" "mecha-nonce");keyid="${client.keyId}";alg="hmac-sha256";tag="mecha-v1"`)
  })
})

describe('per-call auth', () => {
  it('overrides the client credentials: send as one mecha, read the inbox as another', async () => {
    const alice = await h.runtime('override-alice', 'ed25519')
    const bob = await h.runtime('override-bob', 'token')
    const client = h.client(alice)
    const accepted = await client.send({ to: 'override-bob', kind: 'greeting', payload: 'hi bob' })
    expect(accepted.from).toBe('override-alice')

    const messages = await client.inbox({ wait: 2 }, { auth: bob })
    expect(messages.map((m) => m.id)).toEqual([accepted.id])
    expect(await client.ack([accepted.id], { auth: bob })).toEqual({ acknowledged: 1 })
    expect((await client.whoami({ auth: bob })).mecha).toBe('override-bob')
    expect((await client.whoami()).mecha).toBe('override-alice')
  })

  it('is checked like the constructor\'s', async () => {
    const client = h.client(await h.runtime('override-checked', 'token'))
    await expect(client.whoami({ auth: { keyId: 'mkaaaaaaaaaaaaaaaaaaaaaaaa' } })).rejects.toThrow(TypeError)
    await expect(client.whoami({ auth: { token: 'nope' } })).rejects.toThrow(/^expected auth.token as a Mecha token .*, got a 4-character string$/)
  })
})

describe('refusals', () => {
  it('become a MechaError with the problem fields, and no secret in the message', async () => {
    await h.runtime('allowed-peer', 'token')
    await h.runtime('forbidden-peer', 'token')
    const credentials = await h.runtime('limited', 'token+hmac-sha256', { permissions: { recipients: ['allowed-peer'] } })
    const error = await rejection(h.client(credentials).send({ to: 'forbidden-peer', kind: 'note', payload: null }))
    expect(error).toMatchObject({
      name: 'MechaError', status: 403, code: 'FORBIDDEN', reason: 'recipient_not_allowed', detail: 'this key may not send to forbidden-peer',
      requestId: expect.stringMatching(/^req_/),
      problem: { status: 403, code: 'FORBIDDEN', reason: 'recipient_not_allowed', type: 'urn:mecharim:problem:recipient_not_allowed' },
    })
    expect(error.message).toBe(`recipient_not_allowed: this key may not send to forbidden-peer (request ${error.requestId})`)
    for (const secret of [credentials.token, credentials.signingSecret]) {
      expect(JSON.stringify({ message: error.message, stack: error.stack, problem: error.problem })).not.toContain(secret)
    }
  })

  it('an unreachable gateway is UNAVAILABLE / network_error with status 0', async () => {
    const credentials = await h.runtime('lonely', 'token')
    const url = `http://127.0.0.1:${await closedPort()}`
    const error = await rejection(new MechaClient({ url, ...credentials }).whoami())
    expect(error).toMatchObject({ status: 0, code: 'UNAVAILABLE', reason: 'network_error', detail: `cannot reach ${url} (ECONNREFUSED)` })
    expect(error.message).not.toContain(credentials.token)
  })

  it('an aborted call rejects with the signal\'s reason', async () => {
    const client = h.client(await h.runtime('impatient', 'token'))
    const controller = new AbortController()
    const pending = client.inbox({ wait: 10 }, { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('stop waiting')), 100)
    await expect(pending).rejects.toThrow('stop waiting')
  })
})

describe('clock skew', () => {
  beforeAll(async () => {
    await h.runtime('clock-target', 'token')
  })

  it.each([3600_000, -3600_000])('a clock %i ms off is corrected from server_time and the call retried once', async (skew) => {
    const recorder = recordingFetch()
    const client = h.client(await h.runtime(`skewed${skew > 0 ? 'ahead' : 'behind'}`, 'hmac-sha256'), { fetch: recorder.fetch, now: () => Date.now() + skew })
    await client.send({ to: 'clock-target', kind: 'note', payload: 'late' })
    expect(recorder.calls).toHaveLength(2)
    expect(recorder.calls[0]?.headers['mecha-nonce']).not.toBe(recorder.calls[1]?.headers['mecha-nonce'])
    expect(Math.abs(client.clockOffsetMs + skew)).toBeLessThan(2000)
    await client.whoami()
    expect(recorder.calls).toHaveLength(3)
  })

  it('retries only once', async () => {
    const credentials = await h.runtime('stubborn', 'token')
    let offset = 3600_000
    const recorder = recordingFetch()
    // A clock that jumps away again after every correction: the second refusal is thrown.
    const client = h.client(credentials, { fetch: recorder.fetch, now: () => Date.now() + (offset += 3600_000) })
    const error = await rejection(client.whoami())
    expect(error.reason).toBe('stale_timestamp')
    expect(recorder.calls).toHaveLength(2)
  })
})

describe('constructor misuse throws a TypeError at once', () => {
  const token = `mecha_mk${'a'.repeat(24)}_${'b'.repeat(52)}_${'c'.repeat(7)}`
  const keyId = `mk${'a'.repeat(24)}`
  const seed = 'A'.repeat(43)
  it.each([
    [undefined, /^expected options as an object, got undefined$/],
    [{ token }, /^expected options.url as an http\(s\) URL, got undefined$/],
    [{ url: 'not a url', token }, /^expected options.url as an http\(s\) URL, got "not a url"$/],
    [{ url: 'ftp://gw.example', token }, /^expected options.url with http: or https:, got "ftp:"$/],
    [{ url: 'https://gw.example/prefix', token }, /^expected options.url as an origin \(scheme, host, port\), got one with the path "\/prefix"$/],
    [{ url: 'https://gw.example/?key=s3cret', token }, /^expected options.url as an origin \(scheme, host, port\), got one with a query$/],
    [{ url: 'https://user:s3cret@gw.example', token }, /^expected options.url as an origin \(scheme, host, port\), got one with credentials$/],
    [{ url: 'https://gw.example' }, /^expected options.token, or options.keyId with options.signingSecret or options.privateKey, got none$/],
    [{ url: 'https://gw.example', token: 'mecha_short' }, /^expected options.token as a Mecha token .*, got a 11-character string$/],
    [{ url: 'https://gw.example', keyId }, /^expected options.token, or options.keyId with/],
    [{ url: 'https://gw.example', signingSecret: 'mss_x' }, /^expected options.keyId with a signing credential, got undefined$/],
    [{ url: 'https://gw.example', keyId: 'key-1', signingSecret: 'mss_x' }, /^expected options.keyId as a key id .*, got "key-1"$/],
    [{ url: 'https://gw.example', token, keyId: `mk${'b'.repeat(24)}` }, /^expected options.keyId to be the token's key id/],
    [{ url: 'https://gw.example', keyId, signingSecret: 'mss_x', privateKey: seed }, /^expected one of options.signingSecret and options.privateKey, got both$/],
    [{ url: 'https://gw.example', keyId, signingSecret: 'mss x' }, /^expected options.signingSecret as a non-empty string without spaces, got a 5-character string$/],
    [{ url: 'https://gw.example', keyId, privateKey: new Uint8Array(31) }, /^expected options.privateKey as a 32-byte Ed25519 seed .*, got 31 bytes$/],
    [{ url: 'https://gw.example', keyId, privateKey: 'not*base64url' }, /^expected options.privateKey as a 32-byte Ed25519 seed .*, got a 13-character string$/],
    [{ url: 'https://gw.example', token, timeoutMs: -1 }, /^expected options.timeoutMs as a positive number of milliseconds, got -1$/],
    [{ url: 'https://gw.example', token, fetch: 'fetch' }, /^expected options.fetch as a function, got "fetch"$/],
    [{ url: 'https://gw.example', token, WebSocket: {} }, /^expected options.WebSocket as a constructor, got object$/],
    [{ url: 'https://gw.example', token, authority: 'gw.example/path' }, /^expected options.authority as host\[:port\], got "gw.example\/path"$/],
    [{ url: 'https://gw.example', token, signingsecret: 'typo' }, /^expected options among .*, got unknown "signingsecret"$/],
  ])('%#: %j', (options, message) => {
    expect(() => new MechaClient(options as never)).toThrow(TypeError)
    expect(() => new MechaClient(options as never)).toThrow(message)
  })

  it('never shows a secret in the message', () => {
    const secret = 'mss_super secret value'
    expect(() => new MechaClient({ url: 'https://gw.example', keyId, signingSecret: secret })).toThrow(/got a 22-character string$/)
  })

  it('accepts a seed as bytes and the token\'s key id implied', () => {
    expect(new MechaClient({ url: 'https://gw.example', token }).keyId).toBe(keyId)
    expect(new MechaClient({ url: 'https://gw.example/', keyId, privateKey: new Uint8Array(32) }).url).toBe('https://gw.example')
  })

  it('checks call arguments too', async () => {
    const client = new MechaClient({ url: 'https://gw.example', token })
    await expect(client.send({ to: 'x', kind: 'k' } as never)).rejects.toThrow('expected message.payload as a JSON value, got undefined')
    await expect(client.send({ to: 'x', kind: 'k', payload: 1n })).rejects.toThrow(/^expected a JSON-serialisable body/)
    await expect(client.ack([])).rejects.toThrow('expected 1 to 100 message ids, got 0')
    await expect(client.inbox({ wait: 1.5 })).rejects.toThrow('expected wait as a whole number, got 1.5')
  })
})
