import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { admin, testApp, type TestApp } from '../helpers/app.js'

let t: TestApp
beforeEach(async () => { t = await testApp() })
afterEach(async () => { await t.close() })

const post = (body: unknown) => t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: body as object })

describe('POST /v1/mechas: registers a mecha', () => {
  it('creates with defaults and a Location header', async () => {
    const res = await post({ id: 'alpha', name: 'Alpha' })
    expect(res.statusCode).toBe(201)
    expect(res.headers.location).toBe('/v1/mechas/alpha')
    expect(res.json().mecha).toMatchObject({ id: 'alpha', name: 'Alpha', description: null, listed: false, accepts: ['*'], status: 'active', created_by: 'alice' })
    expect(res.json().mecha).not.toHaveProperty('version')
  })

  it('accepts every id character and the 64-character maximum', async () => {
    for (const id of ['a', 'a.b-c_d9', 'x'.repeat(64)]) expect((await post({ id })).statusCode).toBe(201)
  })
})

describe('POST /v1/mechas: refuses bad ids with invalid_id', () => {
  it.each(['A', 'a*', 'a:b', 'a{b', '..', '.', 'a b', 'x'.repeat(65), 'x'.repeat(1000), '', 'é'])('%j', async (id) => {
    const res = await post({ id })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.json()).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'invalid_id' })
    expect((await t.app.inject({ method: 'GET', url: '/v1/mechas', headers: admin })).json().mechas).toEqual([])
  })
})

describe('POST /v1/mechas: refuses other bad input', () => {
  it('unknown fields', async () => {
    expect((await post({ id: 'a', admin: true })).json()).toMatchObject({ reason: 'invalid_request' })
  })
  it('malformed JSON', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: { ...admin, 'content-type': 'application/json' }, payload: '{"id":' })
    expect(res.statusCode).toBe(400)
    expect(res.json().reason).toBe('malformed_json')
  })
  it('a prototype-poisoning body', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: { ...admin, 'content-type': 'application/json' }, payload: '{"id":"a","__proto__":{"x":1}}' })
    expect(res.statusCode).toBe(400)
    expect(res.json().reason).toBe('invalid_request')
  })
  it('a non-JSON content type', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: { ...admin, 'content-type': 'text/plain' }, payload: 'id=a' })
    expect(res.statusCode).toBe(415)
    expect(res.json().reason).toBe('unsupported_media_type')
  })
  it('a wildcard-heavy accepts pattern', async () => {
    const res = await post({ id: 'a', accepts: ['*a*a*a*a*a*a*a*a*a*'] })
    expect(res.statusCode).toBe(400)
    expect(res.json().reason).toBe('invalid_pattern')
  })
  it('a duplicate id with mecha_exists', async () => {
    await post({ id: 'alpha' })
    const res = await post({ id: 'alpha', name: 'again' })
    expect(res.statusCode).toBe(409)
    expect(res.json()).toMatchObject({ code: 'CONFLICT', reason: 'mecha_exists' })
  })
})

describe('GET /v1/mechas: lists and pages', () => {
  it('pages in id order with a next cursor', async () => {
    for (const id of ['c', 'a', 'b']) await post({ id })
    const first = (await t.app.inject({ method: 'GET', url: '/v1/mechas?limit=2', headers: admin })).json()
    expect(first.mechas.map((m: { id: string }) => m.id)).toEqual(['a', 'b'])
    expect(first.next).toBe('b')
    const second = (await t.app.inject({ method: 'GET', url: `/v1/mechas?limit=2&after=${first.next}`, headers: admin })).json()
    expect(second).toMatchObject({ mechas: [{ id: 'c' }], next: null })
  })
  it('refuses a limit out of range', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/v1/mechas?limit=0', headers: admin })).statusCode).toBe(400)
    expect((await t.app.inject({ method: 'GET', url: '/v1/mechas?limit=abc', headers: admin })).statusCode).toBe(400)
  })
})

describe('GET/PATCH/DELETE /v1/mechas/{id}', () => {
  it('reads one mecha, 404 mecha_not_found otherwise', async () => {
    await post({ id: 'alpha' })
    expect((await t.app.inject({ method: 'GET', url: '/v1/mechas/alpha', headers: admin })).json().mecha.id).toBe('alpha')
    const res = await t.app.inject({ method: 'GET', url: '/v1/mechas/beta', headers: admin })
    expect(res.statusCode).toBe(404)
    expect(res.json().reason).toBe('mecha_not_found')
  })

  it('updates fields; null clears; empty patch is refused', async () => {
    await post({ id: 'alpha', name: 'A', description: 'd' })
    const res = await t.app.inject({ method: 'PATCH', url: '/v1/mechas/alpha', headers: admin, payload: { name: 'B', description: null, listed: true } })
    expect(res.statusCode).toBe(200)
    expect(res.json().mecha).toMatchObject({ name: 'B', description: null, listed: true })
    expect((await t.app.inject({ method: 'PATCH', url: '/v1/mechas/alpha', headers: admin, payload: {} })).statusCode).toBe(400)
  })

  it('deactivates idempotently; the mecha stays readable and can no longer change', async () => {
    await post({ id: 'alpha' })
    const res = await t.app.inject({ method: 'DELETE', url: '/v1/mechas/alpha', headers: admin })
    expect(res.statusCode).toBe(200)
    expect(res.json().mecha).toMatchObject({ status: 'inactive' })
    expect(res.json().mecha.deactivated_at).toEqual(expect.any(String))
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/mechas/alpha', headers: admin })).statusCode).toBe(200)
    expect((await t.app.inject({ method: 'GET', url: '/v1/mechas/alpha', headers: admin })).json().mecha.status).toBe('inactive')
    const patch = await t.app.inject({ method: 'PATCH', url: '/v1/mechas/alpha', headers: admin, payload: { name: 'x' } })
    expect(patch.statusCode).toBe(409)
    expect(patch.json().reason).toBe('mecha_inactive')
  })
})

describe('errors raised before routing are problem+json too', () => {
  it('a malformed percent-encoding -> 400 invalid_request', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/mechas/%zz', headers: admin })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.json().reason).toBe('invalid_request')
  })
  it('an over-long path parameter -> 414 uri_too_long', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/mechas/${'a'.repeat(300)}`, headers: admin })
    expect(res.statusCode).toBe(414)
    expect(res.json()).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'uri_too_long' })
  })
})
