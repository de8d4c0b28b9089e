import { readFileSync } from 'node:fs'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config/schema.js'
import { closeIfBodyUnread } from '../http/unread-body.js'
import { mcpContent, type McpContent } from './mcp/content.js'
import type { ModeReader } from './mcp/modes.js'
import { createMcpServer, type McpSources } from './mcp/server.js'

export interface McpOptions {
  config: Config
  /** The discovery document (same object /.well-known/mecharim serves). */
  discovery: Record<string, unknown>
  openapiYaml: string
  /** The mode registry the list_modes tool reads (its listing only). */
  modes: ModeReader
}

/**
 * GET/POST/DELETE /mcp: a read-only Model Context Protocol server over Streamable HTTP, built on the
 * official SDK. Wiring only: what the server says lives in ./mcp/.
 *
 * Stateless (no Mcp-Session-Id): each POST gets a fresh server and transport, so any gateway instance
 * can answer any request and nothing is kept between requests. It reads no credential or transport,
 * and of the stores only the mode listing GET /v1/modes serves openly; DNS-rebinding protection is
 * not needed because everything it says is public anyway.
 */
export async function mcpRoutes(app: FastifyInstance, options: McpOptions): Promise<void> {
  const content = mcpContent({
    discovery: options.discovery,
    openapiYaml: options.openapiYaml,
    protocolMarkdown: readProtocolMarkdown(),
    publicAuthority: options.config.publicAuthority,
  })

  // The app's JSON parser has already read and parsed the body (only application/json is accepted):
  // the transport gets the parsed message and never reads the consumed stream. JSON-RPC requests to
  // a read-only explainer are small; an open route has no reason to read the app-wide 1 MiB.
  const sources: McpSources = { modes: options.modes }
  app.post('/mcp', { bodyLimit: MCP_BODY_LIMIT_BYTES }, async (request, reply) => handleMcpPost(content, sources, request, reply))

  // Stateless: no server-initiated SSE stream to open (GET) and no session to end (DELETE). The MCP
  // transport specification answers both with 405 and a JSON-RPC error, as the SDK's stateless
  // example does: this is the MCP wire contract, not a catalogue refusal, hence no Problem here.
  await app.register(bodilessRoutes)
}

/** The largest JSON-RPC body POST /mcp reads; beyond it 413 `body_too_large`. */
export const MCP_BODY_LIMIT_BYTES = 64 * 1024

/**
 * GET and DELETE /mcp answer 405 whatever they are sent, so they read no body: this context has no
 * JSON parser, only a catch-all that leaves the stream untouched (Fastify would otherwise parse a
 * DELETE body of up to 1 MiB to throw it away), and the connection is closed after the answer.
 */
async function bodilessRoutes(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))
  app.get('/mcp', async (request, reply) => methodNotAllowed(request, reply))
  app.delete('/mcp', async (request, reply) => methodNotAllowed(request, reply))
}

async function handleMcpPost(content: McpContent, sources: McpSources, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  // The SDK writes the response itself: Fastify's onSend hooks will not run, so set what they would.
  reply.hijack()
  reply.raw.setHeader('x-request-id', request.id)
  const server = createMcpServer(content, sources)
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
  reply.raw.on('close', () => {
    void transport.close()
    void server.close()
  })
  try {
    await server.connect(transport)
    await transport.handleRequest(request.raw, reply.raw, request.body)
  } catch (err) {
    request.log.error({ err }, 'MCP request failed')
    if (!reply.raw.headersSent) {
      reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(jsonRpcError(-32603, 'Internal error')))
    } else {
      reply.raw.end()
    }
  }
}

function methodNotAllowed(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  closeIfBodyUnread(request, reply)
  return reply.code(405).header('allow', 'POST').send(jsonRpcError(-32000, 'Method not allowed: this MCP server is stateless; send JSON-RPC messages with POST.'))
}

function jsonRpcError(code: number, message: string): Record<string, unknown> {
  return { jsonrpc: '2.0', error: { code, message }, id: null }
}

/** docs/protocol.md, found next to the package (src/ or dist/ alike), as openapi.yaml is. */
export function readProtocolMarkdown(): string {
  return readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')
}
