import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/schema.js'
import type { ControlStore } from '../stores/types.js'
import { durabilityReport, type Durability } from '../stores/durability.js'
import { ModeRegistry } from '../control-plane/modes.js'
import { directoryRoutes } from './directory.js'
import { healthRoutes, type Probe } from './health.js'
import type { ReloadStatus } from '../reload/reload-status.js'
import { discoveryRoutes, packageVersion, readOpenapiYaml } from './routes.js'
import { docsRoutes } from './docs.js'
import { mcpRoutes } from './mcp.js'
import { modeRoutes } from './modes.js'
import { discoveryDocument } from './well-known.js'

export interface DiscoveryOptions {
  config: Config
  store: ControlStore
  probes: readonly Probe[]
  /** Files the process re-reads while running: /readyz reports a failed reload. */
  reloads: readonly ReloadStatus[]
  durability: Durability
}

/**
 * The open surfaces: they explain the contract and report health; none reads a credential or grants
 * an action. Wiring only.
 */
export async function discoveryPlugin(app: FastifyInstance, options: DiscoveryOptions): Promise<void> {
  const version = packageVersion()
  const openapiYaml = readOpenapiYaml()
  const durability = durabilityReport(options.durability)
  await app.register(discoveryRoutes, { config: options.config, version, openapiYaml, durability })
  await app.register(directoryRoutes, { store: options.store })
  // One registry for the open route and the MCP tool: they list the same modes.
  const modes = new ModeRegistry(options.store)
  await app.register(modeRoutes, { modes })
  await app.register(healthRoutes, { probes: options.probes, reloads: options.reloads, durability })
  await app.register(docsRoutes, { openapiYaml })
  await app.register(mcpRoutes, { config: options.config, discovery: discoveryDocument(options.config, version, durability), openapiYaml, modes })
}
