/**
 * The Redis Cluster hash slot of a key, as the cluster specification defines it ("Keys distribution
 * model" and "Hash tags", https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/):
 * CRC16 (the XMODEM variant: polynomial 0x1021, initial value 0, no reflection, no final XOR) of the
 * key's bytes, modulo 16384. Pure and dependency-free (the npm package cluster-key-slot 1.1.2 hashes
 * `{}{a}` as `{a`, where Redis hashes the whole key: test/integration/redis-cluster.test.ts checks this
 * one against CLUSTER KEYSLOT).
 */

export const CLUSTER_SLOTS = 16384

const CRC16_TABLE = buildCrc16Table()

function buildCrc16Table(): Uint16Array {
  const table = new Uint16Array(256)
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[byte] = crc
  }
  return table
}

/** CRC16/XMODEM of `bytes` (the check value of "123456789" is 0x31C3). */
export function crc16(bytes: Uint8Array): number {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`expected a Uint8Array, got ${describe(bytes)}`)
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number)
  return crc
}

const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d

/**
 * The bytes that decide a key's slot. The hash-tag rule: if the key has a `{`, and a `}` somewhere
 * after the first `{`, with at least one byte between the first `{` and the first `}` after it, only
 * those bytes are hashed; otherwise the whole key is. So `{}x` and `a{` hash whole, `{a}{b}` hashes
 * `a`, and `{{a}}` hashes `{a`.
 */
export function hashedPart(key: Uint8Array): Uint8Array {
  const open = key.indexOf(OPEN_BRACE)
  if (open === -1) return key
  const close = key.indexOf(CLOSE_BRACE, open + 1)
  if (close === -1 || close === open + 1) return key
  return key.subarray(open + 1, close)
}

/** The hash slot (0 to 16383) of a key; a string key is hashed as its UTF-8 bytes, as Redis sees it. */
export function keySlot(key: string | Uint8Array): number {
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) throw new TypeError(`expected a string or Uint8Array key, got ${describe(key)}`)
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key
  return crc16(hashedPart(bytes)) % CLUSTER_SLOTS
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return value.constructor?.name ?? 'object'
  return typeof value
}
