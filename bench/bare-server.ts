import Fastify from 'fastify'

/**
 * The baseline: a bare Fastify 5 server with the gateway's route shape (POST /v1/messages, JSON body
 * parsed and echoed), no logger, no hooks. Run as its own process (bench/gateway.ts startBare), so it
 * does not share an event loop with the load generator.
 */
const port = Number(process.env.BENCH_BARE_PORT)
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`bare-server: expected BENCH_BARE_PORT to be a port number, got ${JSON.stringify(process.env.BENCH_BARE_PORT)}`)
  process.exit(1)
}

const app = Fastify({ logger: false })
app.post('/v1/messages', async (request, reply) => reply.code(202).send(request.body))
await app.listen({ host: '127.0.0.1', port })

const stop = (): void => {
  app.close().then(() => process.exit(0), () => process.exit(1))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
