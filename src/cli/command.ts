import { readFile } from 'node:fs/promises'
import type { Env } from '../config/load.js'
import { fetchTrusting } from '../client/private-ca.js'
import { UsageError } from './args.js'
import { serverUrl } from './base-url.js'
import { CliHttpError, CliNetworkError, ControlPlaneClient, type FetchFn } from './http.js'

export interface Output {
  write(chunk: string): unknown
  /** process.stdout and process.stderr say whether they are a terminal; a capture in tests may. */
  readonly isTTY?: boolean
}

/** Everything a command touches, so tests can run it in-process against a real server. */
export interface CommandIo {
  /** Arguments after the command words (`mechas add`). */
  argv: readonly string[]
  env: Env
  stdout: Output
  stderr: Output
  fetch?: FetchFn
}

export type Command = (io: CommandIo) => Promise<number>

/** A local failure worth a one-line message (no usage): exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CliError'
  }
}

/** Run a command body, turning the expected failures into a message and an exit code. */
export async function runCommand(io: CommandIo, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body()
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n\n${usage}`)
      return 2
    }
    if (err instanceof CliHttpError || err instanceof CliNetworkError || err instanceof CliError) {
      io.stderr.write(`error: ${err.message}\n`)
      return 1
    }
    throw err
  }
}

export function printUsage(io: CommandIo, usage: string): number {
  io.stdout.write(usage)
  return 0
}

export function printJson(io: CommandIo, body: unknown): number {
  io.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
  return 0
}

/**
 * A client for the control plane chosen by --url / MECHA_URL, authenticated by the operator token.
 * With `open` (a command that reads an open route), the token is sent when one is configured and is
 * not required.
 */
export async function connect(io: CommandIo, values: { url?: string; 'token-file'?: string }, options: { open?: boolean } = {}): Promise<ControlPlaneClient> {
  const baseUrl = serverUrl(values.url, io.env, { mountPoint: true })
  const token = options.open === true && values['token-file'] === undefined && nonEmpty(io.env.MECHA_OPERATOR_TOKEN) === undefined
    ? undefined
    : await operatorToken(io, values['token-file'])
  const url = new URL(baseUrl)
  if (token !== undefined && url.protocol === 'http:' && !isLoopback(url.hostname)) {
    io.stderr.write(`warning: sending the operator token over plain http to ${url.host}; use https\n`)
  }
  try {
    const ca = await caFile(io)
    const trusting = ca !== undefined ? fetchTrusting(ca) : undefined
    const fetch: FetchFn | undefined = io.fetch ?? (trusting !== undefined ? (input, init) => trusting(String(input), init ?? {}) : undefined)
    return new ControlPlaneClient({ baseUrl, token, fetch })
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(`--url / MECHA_URL: ${err.message}`)
    throw err
  }
}

/** MECHA_CA_FILE: PEM certificate(s) of a private CA to trust for an https URL, as the SDK's `ca` option. */
export async function caFile(io: CommandIo): Promise<string | undefined> {
  const path = nonEmpty(io.env.MECHA_CA_FILE)
  if (path === undefined) return undefined
  let pem: string
  try {
    pem = await readFile(path, 'utf8')
  } catch (err) {
    throw new CliError(`cannot read MECHA_CA_FILE ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new CliError(`MECHA_CA_FILE ${path} holds no PEM certificate`)
  return pem
}

async function operatorToken(io: CommandIo, tokenFile: string | undefined): Promise<string> {
  let token: string | undefined
  let source: string
  if (tokenFile !== undefined) {
    source = `token file ${tokenFile}`
    try {
      token = (await readFile(tokenFile, 'utf8')).trim()
    } catch (err) {
      throw new CliError(`cannot read the ${source} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  } else {
    source = 'MECHA_OPERATOR_TOKEN'
    token = nonEmpty(io.env.MECHA_OPERATOR_TOKEN)
  }
  if (token === undefined || token === '') {
    throw new CliError(tokenFile !== undefined
      ? `the ${source} is empty`
      : 'no operator token: set MECHA_OPERATOR_TOKEN or pass --token-file PATH (never as a flag value: command lines are visible in ps)')
  }
  // Checked here because fetch quotes an invalid header value, token included, in its error message.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new CliError(`the operator token from ${source} contains spaces or characters not allowed in an HTTP header`)
  return token
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === '' ? undefined : trimmed
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}
