import type { FastifyInstance } from 'fastify'
import type { ModeRegistry } from '../control-plane/modes.js'

/**
 * The session modes, open to read: a mode names a protocol and its message kinds, and grants nothing
 * (sending still needs a key whose permissions allow the kind). Writes are the control plane's and
 * the gateway's (PUT /v1/modes/{name}, PUT /v1/runtime/modes/{name}). As the directory does, the
 * open read takes any name and answers 404 `unknown_mode` for one it does not have, malformed or not.
 */
export async function modeRoutes(app: FastifyInstance, { modes }: { modes: ModeRegistry }): Promise<void> {
  app.get('/v1/modes', async () => ({ modes: await modes.list() }))
  app.get<{ Params: { name: string } }>('/v1/modes/:name', async (request) => ({ mode: await modes.get(request.params.name) }))
}
