import type { OperatorScope } from './config/schema.js'
import type { Access } from './surfaces.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Assigned from src/surfaces.ts when the route is registered (app.ts). */
    access?: Access
    scope?: OperatorScope
  }
}
