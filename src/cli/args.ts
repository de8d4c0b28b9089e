import { parseArgs, type ParseArgsConfig } from 'node:util'

/** A mistake on the command line: reported with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** Options every command takes. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const

/** Options of the commands that talk to a running control plane. */
export const CONNECTION_OPTIONS = {
  ...HELP_OPTION,
  url: { type: 'string' },
  'token-file': { type: 'string' },
  json: { type: 'boolean' },
} as const

// Flags someone might try for the operator token. Refused by name, and the value is never echoed.
const TOKEN_FLAG_RE = /^--?(operator-)?token(=|$)/

type OptionsConfig = NonNullable<ParseArgsConfig['options']>
type Parsed<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>

/** parseArgs in strict mode, its errors turned into UsageErrors with a short message. */
export function parseCommand<const O extends OptionsConfig>(args: readonly string[], options: O): Parsed<O> {
  if (args.some((arg) => TOKEN_FLAG_RE.test(arg))) {
    throw new UsageError('the operator token is not accepted as a flag (command lines are visible to other users in ps): set MECHA_OPERATOR_TOKEN or use --token-file PATH')
  }
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${quoted((err as Error).message)}`)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(invalidValue((err as Error).message))
    throw err
  }
}

// Base64url values (public keys) start with '-' one time in 64; parseArgs then takes them for a flag.
function invalidValue(message: string): string {
  const flag = quoted(message).replace(/ <value>$/, '')
  if (message.includes('ambiguous')) return `the value of ${flag} starts with "-": write it as ${flag}=VALUE`
  return message.split('\n')[0] ?? `invalid value for ${flag}`
}

function quoted(message: string): string {
  return /'([^']+)'/.exec(message)?.[1] ?? message
}

/** Exactly the named positionals, in order. */
export function expectPositionals<const N extends readonly string[]>(positionals: readonly string[], names: N): { -readonly [K in keyof N]: string } {
  if (positionals.length < names.length) throw new UsageError(`missing <${names[positionals.length] ?? 'argument'}>`)
  if (positionals.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length])}`)
  return [...positionals] as { -readonly [K in keyof N]: string }
}

/** `--flag a,b` as a list; empty items are dropped. */
export function parseList(flag: string, raw: string): string[] {
  const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '')
  if (items.length === 0) throw new UsageError(`--${flag} expects a comma-separated list, got ${JSON.stringify(raw)}`)
  return items
}

/** A non-negative whole number; range checks are the server's. */
export function parseWholeNumber(flag: string, raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${flag} expects a whole number, got ${JSON.stringify(raw)}`)
  return n
}

/** `REQUESTS/SECONDS`, e.g. `100/60`. */
export function parseRateLimit(flag: string, raw: string): { requests: number; per_seconds: number } {
  const match = /^(\d+)\/(\d+)$/.exec(raw.trim())
  if (match === null) throw new UsageError(`--${flag} expects REQUESTS/SECONDS (e.g. 100/60), got ${JSON.stringify(raw)}`)
  return { requests: parseWholeNumber(flag, match[1] ?? ''), per_seconds: parseWholeNumber(flag, match[2] ?? '') }
}
