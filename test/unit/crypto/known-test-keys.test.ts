import { createPrivateKey, createPublicKey } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { KNOWN_TEST_KEYS, knownTestKey } from '../../../src/crypto/known-test-keys.js'

/** PKCS#8 DER of an Ed25519 private key is this fixed prefix followed by the 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

function publicKeyOfSeed(seed: string): string {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seed, 'base64url')])
  return createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }).x as string
}

/** The private keys as their sources print them (hex SECRET KEY in RFC 8032, PKCS#8 PEM in RFC 9421). */
const PUBLISHED_SEEDS: Record<string, string> = {
  'RFC 8032 section 7.1 TEST 1; docs/protocol.md worked example': Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex').toString('base64url'),
  'RFC 8032 section 7.1 TEST 2': Buffer.from('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', 'hex').toString('base64url'),
  'RFC 8032 section 7.1 TEST 3': Buffer.from('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'hex').toString('base64url'),
  'RFC 9421 appendix B.1.4 test-key-ed25519': Buffer.from('MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF', 'base64').subarray(16).toString('base64url'),
}

describe('the known test keys', () => {
  it.each(KNOWN_TEST_KEYS.map((k) => [k.source, k]))('%s: the public key is derived from the published private key', (_source, key) => {
    expect(key.seed).toBe(PUBLISHED_SEEDS[key.source])
    expect(publicKeyOfSeed(key.seed)).toBe(key.publicKey)
  })

  it('include every source the brief names, once each', () => {
    expect(KNOWN_TEST_KEYS.map((k) => k.source).sort()).toEqual(Object.keys(PUBLISHED_SEEDS).sort())
    expect(new Set(KNOWN_TEST_KEYS.map((k) => k.publicKey)).size).toBe(KNOWN_TEST_KEYS.length)
  })

  it('knownTestKey finds a listed key and nothing else', () => {
    expect(knownTestKey('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo')?.source).toContain('RFC 8032')
    expect(knownTestKey('JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs')?.source).toContain('RFC 9421')
    expect(knownTestKey(publicKeyOfSeed(Buffer.alloc(32, 7).toString('base64url')))).toBeUndefined()
    expect(() => knownTestKey(5 as unknown as string)).toThrow(/expected publicKey to be a string, got number/)
  })
})
