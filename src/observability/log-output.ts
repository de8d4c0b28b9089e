import type { Config, LogFormat } from '../config/schema.js'

export interface LogFormatInputs {
  /** MECHA_LOG_FORMAT, when set. */
  requested: LogFormat | undefined
  environment: Config['environment']
  stdoutIsTTY: boolean
  stderrIsTTY: boolean
}

/**
 * JSON lines on stdout (the default: what a log pipeline, `jq` or a file wants), or readable lines on
 * stderr for a person at a terminal. Unset, pretty only in development with both streams a terminal:
 * stdout redirected or piped (`npm start > log.jsonl`, `npm start | jq`) asks for the JSON lines there.
 */
export function chooseLogFormat(inputs: LogFormatInputs): LogFormat {
  if (inputs.requested !== undefined) return inputs.requested
  return inputs.environment !== 'production' && inputs.stdoutIsTTY && inputs.stderrIsTTY ? 'pretty' : 'json'
}

/** Where the pretty lines go: the process's stderr, or a capture in tests. */
export interface TextOutput {
  write(chunk: string): unknown
}

/** A pino destination: each JSON line pino writes (already redacted) is turned into a readable one on `out`. */
export interface PrettyLogStream {
  write(line: string): void
}

/**
 * Pretty-printing in the process, synchronously: no transport worker thread to flush or end at exit
 * (src/cli/exit.ts bounds the exit, and SIGTERM must end the process promptly), and no line still in
 * a stream buffer when it exits. Redaction is pino's and happens before this sees the line.
 * pino-pretty is loaded only here: a process logging JSON (production) never loads it.
 */
export async function prettyLogStream(out: TextOutput, options: { colorize: boolean }): Promise<PrettyLogStream> {
  const { prettyFactory } = await import('pino-pretty')
  const pretty = prettyFactory({ colorize: options.colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true })
  return {
    write(line) {
      out.write(pretty(line.endsWith('\n') ? line.slice(0, -1) : line))
    },
  }
}
