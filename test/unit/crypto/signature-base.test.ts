import { createHmac, generateKeyPairSync, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  MECHA_BODY_COMPONENTS,
  MECHA_COMPONENTS,
  buildSignatureBase,
  checkCoveredComponents,
  coveredComponents,
  parseMechaSignature,
  parseSignatureHeaders,
  serializeSignature,
  serializeSignatureInput,
  serializeSignatureParams,
  type MechaSignatureParams,
  type SignedRequest,
} from '../../../src/crypto/signature-base.js'
import { ed25519PublicKeyObject, verifyEd25519, verifyHmacSha256 } from '../../../src/crypto/verify-signature.js'

const COMPONENTS = [...MECHA_COMPONENTS]
const BODY_COMPONENTS = [...MECHA_COMPONENTS, ...MECHA_BODY_COMPONENTS]
const LIST = '("@method" "@authority" "@path" "@query" "mecha-timestamp" "mecha-nonce")'
const SIGNATURE = 'mecha=:AQID:'

function parseWith(params: string, list = LIST): ReturnType<typeof parseMechaSignature> {
  return parseMechaSignature(`mecha=${list}${params}`, SIGNATURE)
}

function detail(result: ReturnType<typeof parseMechaSignature>): string {
  if (result.ok) throw new Error('expected a refusal')
  expect(result.reason).toBe('malformed')
  return result.detail
}

function request(headers: Record<string, string>, overrides: Partial<SignedRequest> = {}): SignedRequest {
  return {
    method: 'POST',
    authority: 'gateway.example:8443',
    path: '/v1/messages',
    query: '?after=42',
    header: (name) => headers[name],
    ...overrides,
  }
}

const HEADERS = {
  'mecha-timestamp': '1700000000',
  'mecha-nonce': 'dGhpcyBpcyBhIG5vbmNlIQ',
  'content-type': 'application/json',
  'content-digest': 'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:',
}

describe('parseMechaSignature: accepted', () => {
  it('reads components in order, the params, the exact @signature-params text and the signature bytes', () => {
    const result = parseWith(';keyid="mk1";alg="hmac-sha256";tag="mecha-v1"')
    expect(result).toEqual({
      ok: true,
      value: {
        components: COMPONENTS,
        params: { keyid: 'mk1', alg: 'hmac-sha256', tag: 'mecha-v1' },
        signatureParams: `${LIST};keyid="mk1";alg="hmac-sha256";tag="mecha-v1"`,
        signature: new Uint8Array([1, 2, 3]),
      },
    })
  })
  it('parses created, expires and nonce, in any parameter order, and keeps that order in @signature-params', () => {
    const params = ';nonce="n-1";created=1700000000;tag="mecha-v1";expires=1700000300;alg="ed25519";keyid="mk1"'
    const result = parseWith(params)
    expect(result.ok && result.value.params).toEqual({
      keyid: 'mk1',
      alg: 'ed25519',
      tag: 'mecha-v1',
      created: 1700000000,
      expires: 1700000300,
      nonce: 'n-1',
    })
    expect(result.ok && result.value.signatureParams).toBe(LIST + params)
  })
  it('ignores other labels in both fields', () => {
    const result = parseMechaSignature(
      `other=("@method");keyid="x", mecha=${LIST};keyid="mk1";alg="ed25519";tag="mecha-v1", sig2=("a")`,
      'sig2=:AAAA:, mecha=:AQID:',
    )
    expect(result.ok && result.value.params.keyid).toBe('mk1')
  })
  it('canonicalizes whitespace inside the inner list for @signature-params', () => {
    const result = parseWith(';keyid="mk1";alg="ed25519";tag="mecha-v1"', '( "@method"  "@path" )')
    expect(result.ok && result.value.signatureParams).toBe('("@method" "@path");keyid="mk1";alg="ed25519";tag="mecha-v1"')
  })
})

describe('parseMechaSignature: refused parameters', () => {
  it.each([
    ['missing keyid', ';alg="ed25519";tag="mecha-v1"', /missing keyid/],
    ['missing alg', ';keyid="mk1";tag="mecha-v1"', /missing alg/],
    ['missing tag', ';keyid="mk1";alg="ed25519"', /missing tag/],
    ['a wrong tag', ';keyid="mk1";alg="ed25519";tag="mecha-v2"', /tag must be "mecha-v1"/],
    ['an unknown alg', ';keyid="mk1";alg="rsa-pss-sha512";tag="mecha-v1"', /^unknown alg$/],
    ['an alg in another case', ';keyid="mk1";alg="ED25519";tag="mecha-v1"', /^unknown alg$/],
    ['a duplicated keyid', ';keyid="mk1";alg="ed25519";tag="mecha-v1";keyid="mk2"', /duplicate parameter "keyid"/],
    ['a duplicated alg', ';keyid="mk1";alg="ed25519";alg="hmac-sha256";tag="mecha-v1"', /duplicate parameter "alg"/],
    ['an unknown parameter', ';keyid="mk1";alg="ed25519";tag="mecha-v1";foo="bar"', /unknown parameter "foo"/],
    ['a prototype-looking parameter', ';keyid="mk1";alg="ed25519";tag="mecha-v1";constructor=1', /unknown parameter "constructor"/],
    ['a keyid that is a token', ';keyid=mk1;alg="ed25519";tag="mecha-v1"', /"keyid" must be a string/],
    ['an empty keyid', ';keyid="";alg="ed25519";tag="mecha-v1"', /keyid must be a non-empty/],
    ['created as a string', ';keyid="mk1";alg="ed25519";tag="mecha-v1";created="1"', /"created" must be an integer/],
    ['created as a decimal', ';keyid="mk1";alg="ed25519";tag="mecha-v1";created=1.5', /"created" must be an integer/],
    ['a negative created', ';keyid="mk1";alg="ed25519";tag="mecha-v1";created=-1', /created must be a non-negative integer/],
    ['a nonce that is an integer', ';keyid="mk1";alg="ed25519";tag="mecha-v1";nonce=5', /"nonce" must be a string/],
  ])('%s', (_, params, expected) => {
    expect(detail(parseWith(params))).toMatch(expected)
  })
})

describe('parseMechaSignature: refused fields', () => {
  const params = ';keyid="mk1";alg="ed25519";tag="mecha-v1"'
  it('a wrong label in Signature-Input or in Signature', () => {
    expect(detail(parseMechaSignature(`sig1=${LIST}${params}`, SIGNATURE))).toMatch(/no "mecha" member/)
    expect(detail(parseMechaSignature(`mecha=${LIST}${params}`, 'sig1=:AQID:'))).toMatch(/Signature has no "mecha" member/)
  })
  it('a duplicated label in either field', () => {
    expect(detail(parseMechaSignature(`mecha=${LIST}${params}, mecha=${LIST}${params}`, SIGNATURE))).toMatch(/duplicate member "mecha"/)
    expect(detail(parseMechaSignature(`mecha=${LIST}${params}`, 'mecha=:AQID:, mecha=:AQID:'))).toMatch(/duplicate member "mecha"/)
  })
  it('a Signature-Input member that is not an inner list', () => {
    expect(detail(parseMechaSignature('mecha="@method"', SIGNATURE))).toMatch(/not an inner list/)
  })
  it('components that are not lowercase strings without parameters', () => {
    expect(detail(parseWith(params, '(@method)'))).toMatch(/expected an item/)
    expect(detail(parseWith(params, '(method)'))).toMatch(/not a string/)
    expect(detail(parseWith(params, '("Content-Type")'))).toMatch(/invalid component identifier/)
    expect(detail(parseWith(params, '("content-type";sf)'))).toMatch(/component parameters are not supported/)
  })
  it('a Signature that is not a byte sequence, or carries parameters', () => {
    expect(detail(parseMechaSignature(`mecha=${LIST}${params}`, 'mecha="AQID"'))).toMatch(/not a byte sequence/)
    expect(detail(parseMechaSignature(`mecha=${LIST}${params}`, 'mecha=:AQID:;x'))).toMatch(/not a byte sequence/)
    expect(detail(parseMechaSignature(`mecha=${LIST}${params}`, 'mecha=:AQI:'))).toMatch(/canonical padded base64/)
  })
  it('oversized fields', () => {
    const long = `mecha=${LIST}${params};nonce="${'n'.repeat(9000)}"`
    expect(detail(parseMechaSignature(long, SIGNATURE))).toMatch(/longer than 8192/)
  })
})

describe('checkCoveredComponents (mecha-v1 set rule)', () => {
  it('accepts exactly the set, in any order', () => {
    expect(checkCoveredComponents(COMPONENTS, false)).toBeUndefined()
    expect(checkCoveredComponents([...COMPONENTS].reverse(), false)).toBeUndefined()
    expect(checkCoveredComponents(BODY_COMPONENTS, true)).toBeUndefined()
    expect(checkCoveredComponents(['content-digest', ...[...COMPONENTS].reverse(), 'content-type'], true)).toBeUndefined()
  })
  it('refuses a missing component', () => {
    expect(checkCoveredComponents(COMPONENTS.slice(1), false)).toBe('missing component "@method"')
    expect(checkCoveredComponents(COMPONENTS, true)).toBe('missing component "content-type"')
    expect(checkCoveredComponents([...COMPONENTS, 'content-type'], true)).toBe('missing component "content-digest"')
    expect(checkCoveredComponents([], false)).toBe('missing component "@method"')
  })
  it('refuses an extra component', () => {
    expect(checkCoveredComponents([...COMPONENTS, 'date'], false)).toBe('unexpected component "date"')
    expect(checkCoveredComponents([...COMPONENTS, '@target-uri'], false)).toBe('unexpected component "@target-uri"')
    expect(checkCoveredComponents(BODY_COMPONENTS, false)).toBe('unexpected component "content-type" (the request has no body)')
  })
  it('refuses a duplicate, even when the set is otherwise complete', () => {
    expect(checkCoveredComponents([...COMPONENTS, '@method'], false)).toBe('duplicate component "@method"')
    expect(checkCoveredComponents([...BODY_COMPONENTS, 'content-digest'], true)).toBe('duplicate component "content-digest"')
  })
  it('requires idempotency-key exactly when the request sends an Idempotency-Key', () => {
    expect(checkCoveredComponents([...BODY_COMPONENTS, 'idempotency-key'], true, true)).toBeUndefined()
    expect(checkCoveredComponents(['idempotency-key', ...COMPONENTS], false, true)).toBeUndefined()
    expect(checkCoveredComponents(BODY_COMPONENTS, true, true)).toBe('missing component "idempotency-key"')
    expect(checkCoveredComponents([...BODY_COMPONENTS, 'idempotency-key'], true, false)).toBe('unexpected component "idempotency-key" (the request sends no Idempotency-Key)')
  })

  it('requires mecha-challenge on an authenticate frame, and refuses it anywhere else', () => {
    expect(checkCoveredComponents([...COMPONENTS, 'mecha-challenge'], false, false, true)).toBeUndefined()
    expect(checkCoveredComponents(['mecha-challenge', ...COMPONENTS], false, false, true)).toBeUndefined()
    expect(checkCoveredComponents(COMPONENTS, false, false, true)).toMatch(/^missing component "mecha-challenge" \(an authenticate frame's signature covers the challenge/)
    expect(checkCoveredComponents([...COMPONENTS, 'mecha-challenge'], false)).toBe('unexpected component "mecha-challenge" (only the authenticate frame of a WebSocket covers the server\'s challenge)')
    expect(coveredComponents(false, false, true)).toEqual([...COMPONENTS, 'mecha-challenge'])
  })
})

describe('buildSignatureBase', () => {
  it('writes one line per component in the order given, then @signature-params, no trailing newline', () => {
    const order = ['mecha-nonce', '@query', '@method', 'content-digest', '@path', 'mecha-timestamp', '@authority', 'content-type']
    const base = buildSignatureBase(order, '("x");keyid="k"', request(HEADERS))
    expect(base).toEqual({
      ok: true,
      value: [
        '"mecha-nonce": dGhpcyBpcyBhIG5vbmNlIQ',
        '"@query": ?after=42',
        '"@method": POST',
        '"content-digest": sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:',
        '"@path": /v1/messages',
        '"mecha-timestamp": 1700000000',
        '"@authority": gateway.example:8443',
        '"content-type": application/json',
        '"@signature-params": ("x");keyid="k"',
      ].join('\n'),
    })
  })
  it('derived components: method as received, authority lowercased, empty path "/", empty query "?"', () => {
    const base = buildSignatureBase(['@method', '@authority', '@path', '@query'], '()', request({}, {
      method: 'get',
      authority: 'Gateway.EXAMPLE',
      path: '',
      query: '',
    }))
    expect(base.ok && base.value).toBe('"@method": get\n"@authority": gateway.example\n"@path": /\n"@query": ?\n"@signature-params": ()')
    const lone = buildSignatureBase(['@query'], '()', request({}, { query: '?' }))
    expect(lone.ok && lone.value).toBe('"@query": ?\n"@signature-params": ()')
  })
  it('trims header values (RFC 9421 section 2.1) but keeps inner whitespace', () => {
    const base = buildSignatureBase(['x-list'], '()', request({ 'x-list': ' \t a,  b \t' }))
    expect(base.ok && base.value).toBe('"x-list": a,  b\n"@signature-params": ()')
  })
  it('refuses a missing header, as a result', () => {
    expect(buildSignatureBase(BODY_COMPONENTS, '()', request({ 'mecha-timestamp': '1', 'mecha-nonce': 'n' }))).toEqual({
      ok: false,
      reason: 'malformed',
      detail: 'missing header "content-type"',
    })
  })
  it('refuses unsupported derived components, duplicates and bad identifiers', () => {
    expect(buildSignatureBase(['@target-uri'], '()', request(HEADERS))).toMatchObject({ ok: false, detail: 'unsupported derived component "@target-uri"' })
    expect(buildSignatureBase(['@query-param'], '()', request(HEADERS))).toMatchObject({ ok: false })
    expect(buildSignatureBase(['@method', '@method'], '()', request(HEADERS))).toMatchObject({ ok: false, detail: 'duplicate component "@method"' })
    expect(buildSignatureBase(['Content-Type'], '()', request(HEADERS))).toMatchObject({ ok: false, detail: 'invalid component identifier "Content-Type"' })
  })
  it('refuses values that would forge a line or leave ASCII', () => {
    const forged = request({ 'x-a': 'v\n"@method": GET' })
    expect(buildSignatureBase(['x-a'], '()', forged)).toMatchObject({ ok: false, detail: 'component "x-a" has a character outside printable ASCII' })
    expect(buildSignatureBase(['x-a'], '()', request({ 'x-a': 'café' }))).toMatchObject({ ok: false })
    expect(buildSignatureBase(['@path'], '()', request({}, { path: '/a\r\nb' }))).toMatchObject({ ok: false })
    expect(buildSignatureBase(['@method'], '()', request({}, { method: '' }))).toMatchObject({ ok: false, detail: 'empty @method' })
  })
  it('throws TypeError on programming errors', () => {
    expect(() => buildSignatureBase('@method' as unknown as string[], '()', request({}))).toThrow(TypeError)
    expect(() => buildSignatureBase([], 'keyid="k"', request({}))).toThrow(/serialized inner list/)
    expect(() => buildSignatureBase([], '()', request({}, { query: 'a=1' }))).toThrow(/start with "\?"/)
    expect(() => buildSignatureBase([], '()', { ...request({}), header: undefined } as unknown as SignedRequest)).toThrow(/request.header/)
  })
})

describe('serializeSignatureInput / serializeSignature', () => {
  const params: MechaSignatureParams = { keyid: 'mk1', alg: 'ed25519', tag: 'mecha-v1', created: 1700000000, nonce: 'n-1' }

  it('writes keyid, alg, tag, then the optional params', () => {
    expect(serializeSignatureInput(BODY_COMPONENTS, { ...params, expires: 1700000300 })).toBe(
      'mecha=("@method" "@authority" "@path" "@query" "mecha-timestamp" "mecha-nonce" "content-type" "content-digest")' +
        ';keyid="mk1";alg="ed25519";tag="mecha-v1";created=1700000000;expires=1700000300;nonce="n-1"',
    )
    expect(serializeSignature(new Uint8Array([1, 2, 3]))).toBe('mecha=:AQID:')
  })
  it('round-trips exactly through parseMechaSignature', () => {
    for (const p of [params, { keyid: 'mk1', alg: 'hmac-sha256', tag: 'mecha-v1' } as const]) {
      const signature = Uint8Array.from({ length: 64 }, (_, i) => i * 3)
      const input = serializeSignatureInput(COMPONENTS, p)
      const parsed = parseMechaSignature(input, serializeSignature(signature))
      expect(parsed).toEqual({
        ok: true,
        value: { components: COMPONENTS, params: p, signatureParams: input.slice('mecha='.length), signature },
      })
      expect(serializeSignatureParams(COMPONENTS, p)).toBe(input.slice('mecha='.length))
    }
  })
  it('refuses what the parser would refuse', () => {
    expect(() => serializeSignatureInput(COMPONENTS, { ...params, alg: 'rsa' as never })).toThrow(/unknown alg/)
    expect(() => serializeSignatureInput(COMPONENTS, { ...params, tag: 'v2' })).toThrow(/tag must be "mecha-v1"/)
    expect(() => serializeSignatureInput(COMPONENTS, { ...params, keyid: '' })).toThrow(/keyid/)
    expect(() => serializeSignatureInput(COMPONENTS, { ...params, created: 1.5 })).toThrow(/created/)
    expect(() => serializeSignatureInput(COMPONENTS, { ...params, nonce: 'é' })).toThrow(/nonce/)
    expect(() => serializeSignatureInput(['Content-Type'], params)).toThrow(/lowercase component identifier/)
    expect(() => serializeSignature('AQID' as unknown as Uint8Array)).toThrow(/expected a Uint8Array/)
  })
})

describe('parseSignatureHeaders (plain RFC 9421, any label)', () => {
  it('returns the raw parameters without profile rules', () => {
    const result = parseSignatureHeaders('sig1=("@method");created=1;keyid="k";foo=?1', 'sig1=:AQID:', 'sig1')
    expect(result.ok && [...result.value.params.keys()]).toEqual(['created', 'keyid', 'foo'])
    expect(result.ok && result.value.signatureParams).toBe('("@method");created=1;keyid="k";foo')
  })
})

describe('a mecha-v1 request end to end (sign with the serializers, verify with the parser)', () => {
  const req = request(HEADERS)

  function signedBase(alg: 'hmac-sha256' | 'ed25519'): string {
    const signatureParams = serializeSignatureParams(BODY_COMPONENTS, { keyid: 'mk1', alg, tag: 'mecha-v1', created: 1700000000 })
    const base = buildSignatureBase(BODY_COMPONENTS, signatureParams, req)
    if (!base.ok) throw new Error(base.detail)
    return base.value
  }

  function verifierBase(input: string, signature: string): { base: string; signature: Uint8Array } {
    const parsed = parseMechaSignature(input, signature)
    if (!parsed.ok) throw new Error(parsed.detail)
    expect(checkCoveredComponents(parsed.value.components, true)).toBeUndefined()
    const base = buildSignatureBase(parsed.value.components, parsed.value.signatureParams, req)
    if (!base.ok) throw new Error(base.detail)
    return { base: base.value, signature: parsed.value.signature }
  }

  it('hmac-sha256', () => {
    const key = new TextEncoder().encode('a shared secret of enough length')
    const mac = createHmac('sha256', key).update(signedBase('hmac-sha256')).digest()
    const input = serializeSignatureInput(BODY_COMPONENTS, { keyid: 'mk1', alg: 'hmac-sha256', tag: 'mecha-v1', created: 1700000000 })
    const verifier = verifierBase(input, serializeSignature(mac))
    expect(verifyHmacSha256(verifier.base, key, verifier.signature)).toBe(true)
  })
  it('ed25519', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))
    const signature = sign(null, Buffer.from(signedBase('ed25519')), privateKey)
    const input = serializeSignatureInput(BODY_COMPONENTS, { keyid: 'mk1', alg: 'ed25519', tag: 'mecha-v1', created: 1700000000 })
    const verifier = verifierBase(input, serializeSignature(signature))
    expect(verifyEd25519(verifier.base, ed25519PublicKeyObject(raw), verifier.signature)).toBe(true)
  })
})
