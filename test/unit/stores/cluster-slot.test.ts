import { describe, expect, it } from 'vitest'
import { CLUSTER_SLOTS, crc16, hashedPart, keySlot } from '../../../src/stores/redis/slot.js'

/** Known answers from the Redis Cluster specification (and the CLUSTER KEYSLOT reference page). */
describe('keySlot (CRC16/XMODEM mod 16384, with hash tags)', () => {
  it('CRC16/XMODEM has the specification\'s check value', () => {
    // Cluster spec, "Keys distribution model": the output of "123456789" is 0x31C3.
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3)
    expect(crc16(new Uint8Array())).toBe(0)
  })

  it('maps keys to the slots Redis documents', () => {
    expect(keySlot('somekey')).toBe(11058)
    expect(keySlot('foo{hash_tag}')).toBe(2515)
    expect(keySlot('123456789')).toBe(0x31c3 % CLUSTER_SLOTS)
  })

  it('hashes only the hash tag, by the specification\'s examples', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'))
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'))
    // "foo{}{bar}": the first { is followed by }, nothing between: the whole key is hashed.
    expect(Buffer.from(hashedPart(Buffer.from('foo{}{bar}'))).toString()).toBe('foo{}{bar}')
    // "foo{{bar}}zap": the substring between the first { and the first } after it is "{bar".
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'))
    // "foo{bar}{zap}": only "bar", the first tag.
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'))
    // "{a" and "a{" have no closing brace: hashed whole.
    expect(Buffer.from(hashedPart(Buffer.from('{a'))).toString()).toBe('{a')
    expect(Buffer.from(hashedPart(Buffer.from('a{'))).toString()).toBe('a{')
    // A } before the first { does not close it.
    expect(keySlot('}{a}')).toBe(keySlot('a'))
  })

  it('hashes a string key as its UTF-8 bytes, the same as the Buffer', () => {
    expect(keySlot('ключ')).toBe(keySlot(Buffer.from('ключ', 'utf8')))
    expect(keySlot('x{тег}y')).toBe(keySlot('тег'))
  })

  it('refuses what is not a key, saying what it got', () => {
    expect(() => keySlot(42 as unknown as string)).toThrow('expected a string or Uint8Array key, got number')
    expect(() => crc16('abc' as unknown as Uint8Array)).toThrow('expected a Uint8Array, got string')
  })
})
