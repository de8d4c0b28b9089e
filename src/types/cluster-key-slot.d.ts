declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (CRC16/XMODEM mod 16384, hash tags honoured) of a key. */
  function generate(key: string | Buffer): number
  export default generate
}
