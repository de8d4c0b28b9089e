import { describe, expect, it } from 'vitest'
import { addressBucket } from '../../../src/ratelimit/address-bucket.js'

describe('addressBucket', () => {
  it('an IPv4 address is its own bucket', () => {
    expect(addressBucket('192.0.2.1', 64)).toBe('192.0.2.1')
    expect(addressBucket('192.0.2.2', 64)).not.toBe(addressBucket('192.0.2.1', 64))
  })

  it('regression: IPv6 was bucketed per /128, so one /64 had 2^64 budgets', () => {
    const bucket = addressBucket('2001:db8:1:2::1', 64)
    expect(bucket).toBe('2001:db8:1:2:0:0:0:0/64')
    for (const other of ['2001:db8:1:2::2', '2001:DB8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:abcd:0:0:7', '2001:db8:1:2::1%eth0']) {
      expect(addressBucket(other, 64), other).toBe(bucket)
    }
    expect(addressBucket('2001:db8:1:3::1', 64)).toBe('2001:db8:1:3:0:0:0:0/64')
  })

  it('the prefix length is configurable, down to the bit', () => {
    expect(addressBucket('2001:db8:1:2::1', 48)).toBe('2001:db8:1:0:0:0:0:0/48')
    expect(addressBucket('2001:db8:1:2::1', 128)).toBe('2001:db8:1:2:0:0:0:1/128')
    expect(addressBucket('2001:db8:1:2::1', 128)).not.toBe(addressBucket('2001:db8:1:2::2', 128))
    expect(addressBucket('2001:db8:ffff::', 36)).toBe('2001:db8:f000:0:0:0:0:0/36')
    expect(addressBucket('::1', 64)).toBe('0:0:0:0:0:0:0:0/64')
  })

  it('IPv4-mapped IPv6 is the IPv4 address, dotted or in hex', () => {
    expect(addressBucket('::ffff:198.51.100.4', 64)).toBe('198.51.100.4')
    expect(addressBucket('::FFFF:c633:6404', 64)).toBe('198.51.100.4')
    expect(addressBucket('0:0:0:0:0:ffff:198.51.100.4', 128)).toBe('198.51.100.4')
    // Other IPv4-embedding forms are IPv6 networks like any other.
    expect(addressBucket('64:ff9b::198.51.100.4', 96)).toBe('64:ff9b:0:0:0:0:0:0/96')
  })

  it('what is not an IP address stays as it is; arguments are checked', () => {
    expect(addressBucket('unix:/run/mecharim.sock', 64)).toBe('unix:/run/mecharim.sock')
    expect(() => addressBucket('::1', 129)).toThrow(/expected ipv6PrefixLength to be an integer from 0 to 128, got 129/)
    expect(() => addressBucket(undefined as unknown as string, 64)).toThrow(TypeError)
  })
})
