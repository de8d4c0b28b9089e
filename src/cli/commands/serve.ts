import { existsSync, readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { ConfigError, loadConfig } from '../../config/load.js'
import type { Config } from '../../config/schema.js'
import { chooseLogFormat, prettyLogStream } from '../../observability/log-output.js'
import { startServer, type RunningServer } from '../../server.js'
import { HELP_OPTION, expectPositionals, parseCommand } from '../args.js'
import { printUsage, runCommand, type CommandIo, type Output } from '../command.js'
import { SERVE_USAGE } from '../usage.js'

/** Where shutdown signals come from: `process`, or an EventEmitter in tests. */
export interface SignalSource {
  on(event: 'SIGTERM' | 'SIGINT', listener: () => void): unknown
  off(event: 'SIGTERM' | 'SIGINT', listener: () => void): unknown
}

export interface ServeIo extends CommandIo {
  signals?: SignalSource
  /** Path of the optional .env file; default `.env` in the working directory, as src/main.ts reads it. */
  envFile?: string
}

/** `mecharim serve`: what src/main.ts does. Resolves with the exit code once a signal has closed the server. */
export function serve(io: ServeIo): Promise<number> {
  return runCommand(io, SERVE_USAGE, async () => {
    const { values, positionals } = parseCommand(io.argv, HELP_OPTION)
    if (values.help === true) return printUsage(io, SERVE_USAGE)
    expectPositionals(positionals, [])
    const envFile = io.envFile ?? '.env'
    const fileEnv = existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {}
    let config: Config
    try {
      config = loadConfig({ ...fileEnv, ...io.env })
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      io.stderr.write(`mecharim: ${err.message}\n`)
      return 1
    }
    let server: RunningServer
    try {
      server = await startServer(config, await logOutput(config, io))
    } catch (err) {
      io.stderr.write(`mecharim: ${startFailure(err, config)}\n`)
      return 1
    }
    if (server.generatedOperatorToken !== undefined) {
      // Printed once to the terminal, outside the logger, so it never lands in structured logs.
      io.stderr.write(
        `\nDevelopment operator token (all scopes; kept in ${server.generatedOperatorToken.path}, the same at every restart; set MECHA_OPERATOR_TOKENS_JSON to choose your own):\n\n  ${server.generatedOperatorToken.token}\n\n`,
      )
    }
    return closeOnSignal(server, io.signals ?? process, io.stderr, config.shutdownGraceSeconds * 1000)
  })
}

/**
 * JSON lines go to the logger's default, stdout, buffered (src/cli/exit.ts bounds their flush at
 * exit); readable ones to stderr, written at once, beside the operator token banner.
 */
async function logOutput(config: Config, io: ServeIo): Promise<{ logStream?: { write(line: string): void } }> {
  const stderrIsTTY = io.stderr.isTTY === true
  const format = chooseLogFormat({ requested: config.logFormat, environment: config.environment, stdoutIsTTY: io.stdout.isTTY === true, stderrIsTTY })
  if (format === 'json') return {}
  // NO_COLOR (no-color.org), set and not empty: no colours, whatever the terminal.
  return { logStream: await prettyLogStream(io.stderr, { colorize: stderrIsTTY && (io.env.NO_COLOR ?? '') === '' }) }
}

/** Why the server did not start; a port in use names the variable that chose it. */
function startFailure(err: unknown, config: Config): string {
  const listen = err as NodeJS.ErrnoException & { port?: number; address?: string }
  if (listen.code === 'EADDRINUSE') {
    const metrics = config.metrics.mode === 'port' && listen.port === config.metrics.port
    const port = listen.port ?? config.port
    return `port ${port} on ${listen.address ?? config.host} is already in use (another mecharim still running?): stop that process, or set ${metrics ? 'MECHA_METRICS=port:<n>' : 'PORT'} to a free port`
  }
  return `failed to start: ${err instanceof Error ? err.message : String(err)}`
}

/** Beyond the grace, how long closing the stores may take before the process gives up on a clean exit. */
const STORE_CLOSE_MARGIN_MS = 5000

/**
 * Close on SIGTERM or SIGINT: no new connections, in-flight requests finish within `graceMs`
 * (long-polls are answered at once, WebSockets closed with 1001), then the stores close; 0 when all
 * of that completed, 1 when it failed or hung past the grace plus a margin.
 */
function closeOnSignal(server: RunningServer, signals: SignalSource, stderr: Output, graceMs: number): Promise<number> {
  return new Promise((resolve) => {
    const onTerm = (): void => stop('SIGTERM')
    const onInt = (): void => stop('SIGINT')
    // A second signal while closing is ignored, as in src/main.ts: closing drains in-flight requests.
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) return
      stopping = true
      server.app.log.info({ signal, grace_ms: graceMs }, 'shutting down')
      // The app cuts off connections when the grace ends; this only guards against a store that never closes.
      const watchdog = setTimeout(() => {
        stderr.write(`mecharim: shutdown did not finish within ${graceMs + STORE_CLOSE_MARGIN_MS} ms; exiting\n`)
        resolve(1)
      }, graceMs + STORE_CLOSE_MARGIN_MS)
      watchdog.unref()
      server.close().then(() => resolve(0), (err: unknown) => {
        stderr.write(`mecharim: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`)
        resolve(1)
      }).finally(() => {
        clearTimeout(watchdog)
        signals.off('SIGTERM', onTerm)
        signals.off('SIGINT', onInt)
      })
    }
    signals.on('SIGTERM', onTerm)
    signals.on('SIGINT', onInt)
  })
}
