import { describe, expect, it } from 'vitest'
import { SLOTS, keySlot } from '../../../src/stores/redis/keys.js'

/**
 * The slot rule the key layout relies on (cluster-key-slot, the package ioredis routes with), against
 * the known answers of the Redis Cluster specification; test/integration/redis-cluster.test.ts checks
 * it against CLUSTER KEYSLOT on a real cluster.
 */
describe('keySlot (CRC16/XMODEM mod 16384, with hash tags)', () => {
  it('maps keys to the slots Redis documents', () => {
    expect(keySlot('somekey')).toBe(11058)
    expect(keySlot('foo{hash_tag}')).toBe(2515)
    // Cluster spec: CRC16 of "123456789" is 0x31C3.
    expect(keySlot('123456789')).toBe(0x31c3 % SLOTS)
  })

  it('hashes only the hash tag, by the specification\'s examples', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'))
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'))
    // "foo{}{bar}": nothing between the first { and }: the whole key is hashed.
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'))
    // "foo{{bar}}zap": the substring between the first { and the first } after it is "{bar".
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'))
    // "foo{bar}{zap}": only "bar", the first tag.
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'))
    // A } before the first { does not close it.
    expect(keySlot('}{a}')).toBe(keySlot('a'))
  })

  it('hashes a string key as its UTF-8 bytes, the same as the Buffer', () => {
    expect(keySlot('ключ')).toBe(keySlot(Buffer.from('ключ', 'utf8')))
    expect(keySlot('x{тег}y')).toBe(keySlot('тег'))
  })
})
