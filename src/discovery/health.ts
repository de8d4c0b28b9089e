import type { FastifyInstance } from 'fastify'
import { sendProblem } from '../errors/handler.js'
import { Problem } from '../errors/problem.js'
import type { Reason } from '../errors/catalogue.js'
import { ReplayCacheUnsafeError } from '../errors/faults.js'
import type { ReloadStatus } from '../reload/reload-status.js'
import type { DurabilityReport } from '../stores/durability.js'

export interface Probe {
  name: string
  /** Fails when the dependency cannot be reached. */
  ping(): Promise<void>
  /** The refusal reason to report for this dependency. */
  reason: Reason
}

const PROBE_TIMEOUT_MS = 2000

/**
 * Liveness (the process answers) and readiness (every store and the transport answer).
 *
 * A failed reload (an invalid operator tokens file or certificate) does not make the instance
 * unready: the previous contents are still in force and it serves correctly, and taking every
 * instance out of the load balancer for a typo in a shared file would turn a mistake into an
 * outage. The 200 body says so in `reloads` instead, for a monitor to alert on.
 */
export async function healthRoutes(app: FastifyInstance, { probes, reloads, durability }: { probes: readonly Probe[]; reloads: readonly ReloadStatus[]; durability: DurabilityReport }): Promise<void> {
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }))

  app.get('/readyz', async (request, reply) => {
    const results = await Promise.all(probes.map(async (probe) => {
      try {
        await withTimeout(probe.ping(), PROBE_TIMEOUT_MS)
        return { name: probe.name, ok: true as const }
      } catch (err) {
        // An unsafe replay cache answers, but must not be used: say why rather than "not reachable".
        if (err instanceof ReplayCacheUnsafeError) return { name: probe.name, ok: false as const, reason: 'replay_cache_unsafe' as Reason, detail: err.publicDetail }
        return { name: probe.name, ok: false as const, reason: probe.reason, detail: `${probe.name} is not reachable` }
      }
    }))
    void reply.header('cache-control', 'no-store')
    const failed = results.find((r) => !r.ok)
    if (failed !== undefined && !failed.ok) {
      return sendProblem(request, reply, new Problem(failed.reason, failed.detail, { extensions: { checks: results.map(({ name, ok }) => ({ name, ok })) } }))
    }
    const ready = { status: 'ready', checks: results.map(({ name, ok }) => ({ name, ok })), durability }
    return reloads.length === 0 ? ready : { ...ready, reloads: reloads.map((r) => r.report()) }
  })
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms)
    promise.then(() => { clearTimeout(timer); resolve() }, (err: unknown) => { clearTimeout(timer); reject(err) })
  })
}
