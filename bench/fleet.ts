import { existsSync } from 'node:fs'
import { relative } from 'node:path'
import { startGateway, type GatewaySettings, type RunningGateway } from './gateway.js'
import type { BenchChild } from './processes.js'
import type { BenchResults } from './results.js'

/** Where a fleet records what it stopped: the run's results, or a list of the caller's own. */
export type FleetRecords = Pick<BenchResults, 'processes' | 'profiles'>

/**
 * The server processes of one part of a run: gateways it starts and other children it adopts (Redis,
 * the bare server). Stopping one records its peak RSS (and a gateway's CPU profile) in the results.
 */
export class Fleet {
  readonly #results: FleetRecords
  readonly #profileDir: string | undefined
  readonly #gateways: RunningGateway[] = []
  readonly #others: { child: BenchChild; role: string }[] = []

  constructor(results: FleetRecords, profileDir: string | undefined) {
    this.#results = results
    this.#profileDir = profileDir
  }

  async start(settings: GatewaySettings): Promise<RunningGateway> {
    console.log(`bench: starting ${settings.label}`)
    const gateway = await startGateway({ ...settings, ...(this.#profileDir !== undefined ? { profileDir: this.#profileDir } : {}) })
    this.#gateways.push(gateway)
    return gateway
  }

  async stop(gateway: RunningGateway): Promise<void> {
    const at = this.#gateways.indexOf(gateway)
    if (at === -1) return
    this.#gateways.splice(at, 1)
    const peakRssKiB = await gateway.stop()
    const { label, redisUrl, metrics } = gateway.settings
    this.#results.processes.push({ label, role: redisUrl !== undefined ? `gateway, ${redisUrl.includes('+cluster') ? 'Redis Cluster' : 'Redis'}` : 'gateway, embedded', metrics, peakRssKiB })
    if (gateway.profilePath !== undefined && existsSync(gateway.profilePath)) this.#results.profiles.push(relative(process.cwd(), gateway.profilePath))
  }

  /** A child this fleet stops (last, after the gateways) and records as `role`. */
  adopt(child: BenchChild, role: string): void {
    this.#others.push({ child, role })
  }

  async stopAll(): Promise<void> {
    for (const gateway of [...this.#gateways]) await this.stop(gateway)
    for (const { child, role } of this.#others.splice(0)) {
      this.#results.processes.push({ label: child.label, role, metrics: '-', peakRssKiB: child.peakRssKiB() })
      await child.stop()
    }
  }
}
