import { readFile } from 'node:fs/promises'
import { MechaClient, MechaError, type WebSocketConstructor } from '../client/index.js'
import { HELP_OPTION, UsageError, parseCommand } from './args.js'
import { serverUrl } from './base-url.js'
import { CliError, caFile, runCommand, type CommandIo } from './command.js'

// What every runtime command (send, listen, whoami, sessions) shares: the options, the SDK client
// built from the runtime credentials (environment and files, never flag values), and the reporting
// of SDK errors.

/** What the runtime commands take besides the usual: a stop signal and a WebSocket, for tests. */
export interface RuntimeIo extends CommandIo {
  /** Stops `listen`. Default: SIGINT or SIGTERM. */
  signal?: AbortSignal
  WebSocket?: WebSocketConstructor
}

export const RUNTIME_OPTIONS = {
  ...HELP_OPTION,
  url: { type: 'string' },
  'signing-secret-file': { type: 'string' },
  'private-key-file': { type: 'string' },
  'dev-sender': { type: 'string' },
} as const

// Flags someone might try for a runtime secret. Refused by name; the value is never echoed.
const SECRET_FLAG_RE = /^--?(token|signing-secret|private-key|secret)(=|$)/

export function parseRuntime<const O extends typeof RUNTIME_OPTIONS>(args: readonly string[], options: O): ReturnType<typeof parseCommand<O>> {
  if (args.some((arg) => SECRET_FLAG_RE.test(arg))) {
    throw new UsageError('secrets are not accepted as flag values (command lines are visible to other users in ps): set MECHA_TOKEN or MECHA_SIGNING_SECRET, or use --signing-secret-file / --private-key-file PATH')
  }
  return parseCommand(args, options)
}

export interface RuntimeValues {
  url?: string
  'signing-secret-file'?: string
  'private-key-file'?: string
  'dev-sender'?: string
}

/** The SDK client for MECHA_URL / --url with the runtime credentials from the environment and files. */
export async function runtimeClient(io: RuntimeIo, values: RuntimeValues): Promise<MechaClient> {
  const url = serverUrl(values.url, io.env, { mountPoint: false })
  if (values['dev-sender'] !== undefined) return devSenderClient(io, url, values)
  const token = nonEmpty(io.env.MECHA_TOKEN)
  const keyId = nonEmpty(io.env.MECHA_KEY_ID)
  let signingSecret = nonEmpty(io.env.MECHA_SIGNING_SECRET)
  const secretFile = values['signing-secret-file']
  if (secretFile !== undefined) {
    if (signingSecret !== undefined) throw new UsageError('give the signing secret once: MECHA_SIGNING_SECRET or --signing-secret-file, not both')
    signingSecret = await readSecretFile(secretFile, 'signing secret file')
  }
  const keyFile = values['private-key-file'] ?? nonEmpty(io.env.MECHA_PRIVATE_KEY_FILE)
  const privateKey = keyFile === undefined ? undefined : await readSecretFile(keyFile, 'private key file')
  if (signingSecret !== undefined && privateKey !== undefined) {
    throw new CliError('give one signing credential: a signing secret (MECHA_SIGNING_SECRET / --signing-secret-file) or a private key (MECHA_PRIVATE_KEY_FILE / --private-key-file), not both')
  }
  if (token === undefined && signingSecret === undefined && privateKey === undefined) {
    throw new CliError('no runtime credentials: set MECHA_TOKEN, and/or MECHA_KEY_ID with MECHA_SIGNING_SECRET (or --signing-secret-file PATH) or MECHA_PRIVATE_KEY_FILE (never as flag values: command lines are visible in ps)')
  }
  const parsed = new URL(url)
  if (token !== undefined && parsed.protocol === 'http:' && !isLoopback(parsed.hostname)) {
    io.stderr.write(`warning: sending the runtime token over plain http to ${parsed.host}; use https\n`)
  }
  // A test's own fetch/WebSocket take precedence: the SDK refuses `ca` alongside them.
  const ca = io.fetch === undefined && io.WebSocket === undefined ? await caFile(io) : undefined
  try {
    return new MechaClient({ url, token, keyId, signingSecret, privateKey, ...(ca !== undefined ? { ca } : {}), ...(io.fetch !== undefined ? { fetch: io.fetch } : {}), ...(io.WebSocket !== undefined ? { WebSocket: io.WebSocket } : {}) })
  } catch (err) {
    // The SDK names its options; say which variable or file they came from. It never quotes a secret.
    if (err instanceof TypeError) throw new CliError(err.message.replace(/options\.(\w+)/g, (_, name: string) => OPTION_SOURCES[name] ?? name))
    throw err
  }
}

/**
 * `--dev-sender ID`: act as that mecha through the development sender header, with no key. Only a
 * development gateway started with MECHA_ALLOW_DEV_SENDER_HEADER=1 accepts it (others answer
 * dev_sender_refused, naming the flag). Never mixed with a key's credentials.
 */
async function devSenderClient(io: RuntimeIo, url: string, values: RuntimeValues): Promise<MechaClient> {
  const present: string[] = ['MECHA_TOKEN', 'MECHA_KEY_ID', 'MECHA_SIGNING_SECRET', 'MECHA_PRIVATE_KEY_FILE'].filter((name) => nonEmpty(io.env[name]) !== undefined)
  for (const flag of ['signing-secret-file', 'private-key-file'] as const) if (values[flag] !== undefined) present.push(`--${flag}`)
  if (present.length > 0) throw new UsageError(`--dev-sender acts without a key: unset ${present.join(', ')} (or drop --dev-sender)`)
  const devSender = values['dev-sender'] as string
  const ca = io.fetch === undefined && io.WebSocket === undefined ? await caFile(io) : undefined
  try {
    return new MechaClient({ url, devSender, ...(ca !== undefined ? { ca } : {}), ...(io.fetch !== undefined ? { fetch: io.fetch } : {}), ...(io.WebSocket !== undefined ? { WebSocket: io.WebSocket } : {}) })
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(`--dev-sender must be a mecha id (1-64 of a-z 0-9 - _ .), got ${JSON.stringify(devSender)}`)
    throw err
  }
}

const OPTION_SOURCES: Readonly<Record<string, string>> = {
  url: '--url / MECHA_URL',
  token: 'MECHA_TOKEN',
  keyId: 'MECHA_KEY_ID',
  signingSecret: 'the signing secret',
  privateKey: 'the private key',
}

async function readSecretFile(path: string, what: string): Promise<string> {
  let text: string
  try {
    text = (await readFile(path, 'utf8')).trim()
  } catch (err) {
    throw new CliError(`cannot read the ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  if (text === '') throw new CliError(`the ${what} ${path} is empty`)
  return text
}

/** SDK argument checks (TypeError) are the user's input here: report them, not crash. */
export async function sdk<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if (err instanceof TypeError) throw new CliError(err.message)
    throw err
  }
}

/** runCommand, with the SDK's errors reported like the control plane's: one line, exit 1. */
export function runRuntime(io: RuntimeIo, usage: string, body: () => Promise<number>): Promise<number> {
  return runCommand(io, usage, async () => {
    try {
      return await body()
    } catch (err) {
      if (err instanceof MechaError) throw new CliError(describeMechaError(err))
      throw err
    }
  })
}

/** The SDK's message, with the same hint the operator commands give when nothing answered (cli/http.ts). */
export function describeMechaError(err: MechaError): string {
  return err.reason === 'network_error' && err.status === 0 ? `${err.message}: is it running? Set --url or MECHA_URL` : err.message
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === '' ? undefined : trimmed
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}

/** --payload JSON or --payload-file PATH (default null). */
export async function readPayload(inline: string | undefined, file: string | undefined): Promise<unknown> {
  if (inline !== undefined && file !== undefined) throw new UsageError('give either --payload or --payload-file, not both')
  if (inline === undefined && file === undefined) return null
  let text: string
  let source: string
  if (file !== undefined) {
    source = `the payload file ${file}`
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw new CliError(`cannot read ${source} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  } else {
    source = '--payload'
    text = inline as string
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new UsageError(`${source} is not JSON (${err instanceof Error ? err.message : 'unparseable'})`)
  }
}
