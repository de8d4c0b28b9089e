import { hash, timingSafeEqual } from 'node:crypto'
import Fastify from 'fastify'
import { Redis } from 'ioredis'

/**
 * The reference point: the least a Redis-backed gateway can do. Fastify 5 without a logger,
 * `POST /v1/messages` with the JSON body parsed; the token's secret hashed (SHA-256) and compared in
 * constant time with one digest; then one Lua script, nonce SET NX EX plus XADD, over ioredis with
 * auto-pipelining; 202. No key lookup, no timestamp, no permissions, no metrics, no request ids: the
 * gateway's ratio to bare is read against this server's ratio from the same run.
 */
const port = Number(process.env.BENCH_PROTO_PORT)
const redisUrl = process.env.BENCH_PROTO_REDIS_URL ?? ''
const expected = Buffer.from(process.env.BENCH_PROTO_SECRET_DIGEST ?? '', 'hex')
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !redisUrl.startsWith('redis://') || expected.length !== 32) {
  console.error('prototype-server: expected BENCH_PROTO_PORT, BENCH_PROTO_REDIS_URL and BENCH_PROTO_SECRET_DIGEST (64 hex)')
  process.exit(1)
}

const ACCEPT = `
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('XADD', KEYS[2], '*', 'm', ARGV[1])
return 1
`
const redis = new Redis(redisUrl, { enableAutoPipelining: true }) as Redis & {
  prototypeAccept(nonceKey: string, inboxKey: string, message: string, ttl: string): Promise<number>
}
redis.defineCommand('prototypeAccept', { numberOfKeys: 2, lua: ACCEPT })

const app = Fastify({ logger: false })
app.post('/v1/messages', async (request, reply) => {
  const authorization = request.headers.authorization ?? ''
  const secret = authorization.startsWith('Mecha ') ? (authorization.split('_')[2] ?? '') : ''
  const nonce = request.headers['mecha-nonce']
  if (typeof nonce !== 'string' || !timingSafeEqual(hash('sha256', secret, 'buffer') as unknown as Buffer, expected)) {
    return reply.code(401).send({ reason: 'invalid_key' })
  }
  const fresh = await redis.prototypeAccept(`prototype:nonce:${nonce}`, 'prototype:inbox', JSON.stringify(request.body), '660')
  if (fresh !== 1) return reply.code(401).send({ reason: 'replayed_nonce' })
  return reply.code(202).send({ accepted: true })
})
await app.listen({ host: '127.0.0.1', port })

const stop = (): void => {
  app.close().then(() => redis.quit()).then(() => process.exit(0), () => process.exit(1))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
