import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify'
import type { MetricsRecorder } from './recorder.js'

/** Send the exposition text; scrapes must never be served from a cache. */
export async function sendMetrics(recorder: MetricsRecorder, reply: FastifyReply): Promise<FastifyReply> {
  const { contentType, body } = await recorder.exposition()
  return reply.header('cache-control', 'no-store').type(contentType).send(body)
}

export interface MetricsListenerOptions {
  host: string
  port: number
  log: FastifyBaseLogger
}

/**
 * MECHA_METRICS=port:<n>. Metrics describe the service's traffic (routes, refusal reasons, dependency
 * failures, latency): harmless to clients, useful to an attacker probing it. A listener of its own
 * lets the public port expose the API only, while the metrics port is reachable from the internal
 * network alone (firewall, NetworkPolicy, a private interface in HOST) for the scraper.
 *
 * It is a separate Fastify instance, not a route of the main app: the main app's hooks (route
 * classification in app.ts, the gateway, the problem handler, these metrics' own hooks) never see it,
 * and scrapes are not counted as API traffic.
 */
export async function startMetricsListener(recorder: MetricsRecorder, options: MetricsListenerOptions): Promise<FastifyInstance> {
  const listener = Fastify({
    loggerInstance: options.log,
    // A line per scrape would only be noise.
    logController: new LogController({ disableRequestLogging: true }),
    // A scraper keeps its connection alive between scrapes: closing must not wait for it.
    forceCloseConnections: true,
  })
  listener.get('/metrics', async (_request, reply) => sendMetrics(recorder, reply))
  await listener.listen({ host: options.host, port: options.port })
  return listener
}
