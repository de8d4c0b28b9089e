import { serve } from './cli/commands/serve.js'
import { exitWithin } from './cli/exit.js'

/**
 * `npm start`: the same start-up as `mecharim serve` (config from the environment and an optional
 * .env, fail fast on bad configuration, SIGTERM/SIGINT drain and close). The only module besides the
 * CLI entry that reads process.env and exits.
 */
const code = await serve({ argv: [], env: process.env, stdout: process.stdout, stderr: process.stderr })
// Bounded: a full stdout pipe must not keep the process alive after SIGTERM (issue 11).
await exitWithin(code)
