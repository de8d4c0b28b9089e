import { isIPv4, isIPv6 } from 'node:net'

/**
 * The failed-authentication bucket a client address counts against. An IPv4 address is itself. An
 * IPv6 address is its network of `ipv6PrefixLength` bits (MECHA_AUTH_FAILURE_IPV6_PREFIX, default
 * 64): a single subscriber is routinely given a whole /64, so bucketing per /128 would give one
 * client 2^64 budgets. IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack socket reports for an
 * IPv4 peer) is the IPv4 address, so one client is one bucket whichever way it connected. Anything
 * that is not an IP address (a Unix socket, a test injection) is its own bucket, unchanged.
 */
export function addressBucket(address: string, ipv6PrefixLength: number): string {
  if (!Number.isSafeInteger(ipv6PrefixLength) || ipv6PrefixLength < 0 || ipv6PrefixLength > 128) {
    throw new RangeError(`expected ipv6PrefixLength to be an integer from 0 to 128, got ${ipv6PrefixLength}`)
  }
  if (typeof address !== 'string') throw new TypeError(`expected address to be a string, got ${typeof address}`)
  if (isIPv4(address)) return address
  const groups = ipv6Groups(address)
  if (groups === undefined) return address
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6] as number, groups[7] as number]
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
  }
  const masked = groups.map((group, i) => {
    const bits = Math.min(16, Math.max(0, ipv6PrefixLength - i * 16))
    return bits === 0 ? 0 : group & ((0xffff << (16 - bits)) & 0xffff)
  })
  return `${masked.map((g) => g.toString(16)).join(':')}/${ipv6PrefixLength}`
}

/** The eight 16-bit groups of an IPv6 address (a zone id dropped: it names a link, not a network). */
function ipv6Groups(address: string): number[] | undefined {
  const zone = address.indexOf('%')
  let text = zone === -1 ? address : address.slice(0, zone)
  if (!isIPv6(text)) return undefined
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    // A dotted IPv4 tail (`::ffff:192.0.2.1`, `64:ff9b::192.0.2.1`) is the last two groups.
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number]
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [left = '', right] = text.split('::')
  const head = left === '' ? [] : left.split(':')
  if (right === undefined) return head.map((g) => Number.parseInt(g, 16))
  const rest = right === '' ? [] : right.split(':')
  return [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest].map((g) => Number.parseInt(g, 16))
}
