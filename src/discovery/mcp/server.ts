import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import * as z from 'zod'
import { CATALOGUE, isReason } from '../../errors/catalogue.js'
import { SCHEMAS, schemaNames, type SchemaName } from '../../schemas/registry.js'
import { reasonSource } from './checks.js'
import { authenticationModel, type McpContent } from './content.js'
import { modeName } from '../../schemas/modes.js'
import { modesModel, modesText, type ModeReader } from './modes.js'
import { AUTHORITY_RE, buildSignedRequestExample, isJsonText } from './signed-example.js'
import { authenticationText, errorText, exampleText, surfacesText } from './text.js'

/**
 * Every tool only reads: plain data computed at start-up, or (list_modes) the mode registry's
 * listing. It explains, it never acts.
 */
const READ_ONLY: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false }

/**
 * What a Mecha key or signing secret looks like. The server never takes a secret: an input that
 * carries one is refused without being echoed, so a pasted credential goes no further than here.
 */
const CREDENTIAL_RES = [/mecha_mk[a-z2-7]{24}_/i, /mss_[A-Za-z0-9_-]{43}/]

const ACCESS = ['open', 'operator', 'runtime'] as const
const SCHEMA_NAMES = schemaNames() as [SchemaName, ...SchemaName[]]

export const TOOL_NAMES = ['describe_authentication', 'list_surfaces', 'get_schema', 'explain_error', 'build_signed_request_example', 'list_modes'] as const

const MODE_NAME_RE = new RegExp(modeName.pattern)

/** What a server reads while it answers (the rest of what it says is in `content`). */
export interface McpSources {
  modes: ModeReader
}

/** A new server per request (the SDK's stateless pattern): any gateway instance can answer any request. */
export function createMcpServer(content: McpContent, sources: McpSources): McpServer {
  const server = new McpServer(
    { name: content.name, title: 'Mecharim discovery', version: content.version },
    {
      instructions: `${content.principle} This server is read-only: it describes mecharim's surfaces, runtime `
        + 'authentication (profile mecha-v1), JSON Schemas, error catalogue and the live session modes. It needs no credentials, never issues '
        + 'keys or sends messages, and never accepts a secret.',
      maxToolInputElements: 1024,
    },
  )
  registerTools(server, content)
  registerModeTool(server, sources.modes)
  registerResources(server, content)
  return server
}

function registerTools(server: McpServer, content: McpContent): void {
  server.registerTool('describe_authentication', {
    title: 'Describe runtime authentication',
    description: 'How a runtime authenticates to the mecharim gateway: the headers (Mecha-Timestamp, Mecha-Nonce, '
      + 'Authorization), the timestamp window, nonce rules, the Mecha key token format, the RFC 9421 signature profile '
      + 'mecha-v1 (covered components, parameters, algorithms hmac-sha256 and ed25519), Content-Digest, and the order '
      + 'in which the gateway runs its checks. Read-only.',
    annotations: READ_ONLY,
  }, () => {
    const model = authenticationModel(content)
    return result(authenticationText(model), model)
  })

  server.registerTool('list_surfaces', {
    title: 'List surfaces',
    description: 'The HTTP surfaces of this server with method, URL and who may call them: open (no credentials, '
      + 'descriptive only), operator (control plane, operator bearer token with a scope) or runtime (gateway, a Mecha key). '
      + 'Optionally filtered by access. Read-only.',
    inputSchema: { access: z.enum(ACCESS).optional().describe('Only surfaces with this access class.') },
    annotations: READ_ONLY,
  }, ({ access }) => {
    const surfaces = content.surfaces.filter((s) => access === undefined || s.access === access)
    return result(surfacesText(surfaces), { access: access ?? 'all', count: surfaces.length, surfaces })
  })

  server.registerTool('get_schema', {
    title: 'Get a JSON Schema',
    description: 'One JSON Schema (draft 2020-12) by name: the very object the routes validate with, also served '
      + 'at /v1/schemas/{name}. Read-only.',
    inputSchema: { name: z.enum(SCHEMA_NAMES).describe('The schema name, as listed at /v1/schemas.') },
    annotations: READ_ONLY,
  }, ({ name }) => {
    const schema = SCHEMAS[name] as unknown as Record<string, unknown>
    return { content: [{ type: 'text', text: JSON.stringify(schema, null, 2) }], structuredContent: schema }
  })

  server.registerTool('explain_error', {
    title: 'Explain an error reason',
    description: 'Cause and fix for an error `reason` from a mecharim problem+json response (e.g. replayed_nonce): '
      + 'its code, HTTP status, meaning, the fix, and which check produces it. Read-only.',
    inputSchema: { reason: z.string().min(1).max(64).describe('The `reason` member of the problem+json body, e.g. "bad_signature".') },
    annotations: READ_ONLY,
  }, ({ reason }) => {
    // The input is never echoed: a caller may paste anything here.
    if (!isReason(reason)) return failure(`Unknown reason. Valid reasons: ${Object.keys(CATALOGUE).join(', ')}`)
    const entry = CATALOGUE[reason]
    const source = reasonSource(reason)
    const explained = {
      reason, code: entry.code, status: entry.status, meaning: entry.meaning, fix: entry.fix,
      produced_by: {
        runtime_checks: source.runtime_checks.map((c) => ({ step: c.step, check: c.check })),
        ...(source.other !== undefined ? { other: source.other } : {}),
      },
    }
    return result(errorText(explained), explained)
  })

  server.registerTool('build_signed_request_example', {
    title: 'Build a signed request example',
    description: 'A worked mecha-v1 signed request (signature base, Signature-Input, Signature, Content-Digest) '
      + 'built with the server\'s own signature code and the PUBLIC test key material of docs/protocol.md, for the '
      + 'authority you give (default: this server\'s) at the current time with a fresh nonce. With authority '
      + 'gateway.example.com, timestamp 1795300000 and nonce bWVjaGEtdjEtZXhhbXBsZS1ub25jZSE it reproduces the documented '
      + 'worked example exactly. Example only: the keys are public and must never be used in production. Takes no secret; '
      + 'the SDK (mecharim/client) and the CLI sign real requests for you.',
    inputSchema: {
      alg: z.enum(['hmac-sha256', 'ed25519']).describe('Signature algorithm.'),
      method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).optional().describe('HTTP method; default POST.'),
      path: z.string().min(1).max(2048).regex(/^\/[\x21-\x7e]*$/).optional()
        .describe('Path with optional query, e.g. "/v1/inbox?wait=30"; default "/v1/messages".'),
      body: z.union([z.string().max(65536), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional()
        .describe('JSON body (text as sent, or a JSON value). Default: the worked example body for POST /v1/messages, none otherwise.'),
      authority: z.string().max(261).regex(AUTHORITY_RE).optional()
        .describe(`The @authority to sign for: lowercase host and optional port, as your client reaches the gateway. Default: this server's.`),
      timestamp: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional().describe('Mecha-Timestamp in unix seconds; default: now.'),
      nonce: z.string().regex(/^[A-Za-z0-9_-]{22,128}$/).optional().describe('Mecha-Nonce (22-128 base64url characters); default: fresh random.'),
    },
    annotations: READ_ONLY,
  }, ({ alg, method, path, body, authority, timestamp, nonce }) => {
    const bodyText = body === undefined || typeof body === 'string' ? body : JSON.stringify(body)
    if (carriesCredential(path) || carriesCredential(bodyText)) {
      return failure('Refused: the input looks like it contains a Mecha key or signing secret. This tool never takes secrets; it signs with public test keys only.')
    }
    if (bodyText !== undefined && !isJsonText(bodyText)) return failure('body must be JSON (application/json is the only body type).')
    const example = buildSignedRequestExample({
      alg, method, path, body: bodyText, authority: authority ?? content.publicAuthority,
      ...(timestamp !== undefined ? { timestamp } : {}), ...(nonce !== undefined ? { nonce } : {}),
    })
    return result(exampleText(example, content.publicAuthority), { ...example, this_server_authority: content.publicAuthority })
  })
}

function registerModeTool(server: McpServer, modes: ModeReader): void {
  server.registerTool('list_modes', {
    title: 'List session modes',
    description: 'The session modes registered now (read live from the mode registry, as GET /v1/modes serves them): '
      + 'each names a protocol, its version and the message kinds it uses. Optionally one mode by name. Descriptive '
      + 'only: a mode grants nothing. Read-only.',
    inputSchema: { name: z.string().regex(MODE_NAME_RE).optional().describe('One mode by name, e.g. "decision.v1".') },
    annotations: READ_ONLY,
  }, async ({ name }) => {
    const all = await modes.list()
    if (name === undefined) {
      const model = modesModel(all)
      return result(modesText(model), model)
    }
    const found = all.filter((m) => m.name === name)
    // The input is never echoed, as explain_error does: a caller may paste anything here.
    if (found.length === 0) return failure(`No such mode. Registered modes: ${all.length === 0 ? 'none' : all.map((m) => m.name).join(', ')}`)
    const model = modesModel(found)
    return result(modesText(model), model)
  })
}

function registerResources(server: McpServer, content: McpContent): void {
  for (const name of schemaNames()) {
    const uri = `mecharim://schemas/${name}`
    const schema = SCHEMAS[name]
    server.registerResource(`schema-${name}`, uri, {
      title: schema.title,
      description: `JSON Schema "${name}" (also at ${content.publicUrl}/v1/schemas/${name}).`,
      mimeType: 'application/schema+json',
    }, () => ({ contents: [{ uri, mimeType: 'application/schema+json', text: JSON.stringify(schema, null, 2) }] }))
  }
  fixed(server, 'protocol', 'mecharim://docs/protocol.md', 'The wire protocol, with worked examples and test vectors.', 'text/markdown', content.protocolMarkdown)
  fixed(server, 'discovery', 'mecharim://.well-known/mecharim', 'The discovery document (as served at /.well-known/mecharim).', 'application/json', content.discoveryJson)
  fixed(server, 'openapi', 'mecharim://openapi.yaml', 'The whole API as OpenAPI 3.1 (as served at /openapi.yaml).', 'application/yaml', content.openapiYaml)
}

function fixed(server: McpServer, name: string, uri: string, description: string, mimeType: string, text: string): void {
  server.registerResource(name, uri, { description, mimeType }, () => ({ contents: [{ uri, mimeType, text }] }))
}

/** Text for people, the same data as JSON for programs (and in a text block for clients without structured content). */
function result(summary: string, structured: Record<string, unknown>): CallToolResult {
  return {
    content: [{ type: 'text', text: summary }, { type: 'text', text: JSON.stringify(structured, null, 2) }],
    structuredContent: structured,
  }
}

function failure(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true }
}

function carriesCredential(text: string | undefined): boolean {
  return text !== undefined && CREDENTIAL_RES.some((re) => re.test(text))
}

