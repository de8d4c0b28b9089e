#!/usr/bin/env node
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import type { Command, CommandIo } from './command.js'
import { EXIT_DEADLINE_MS, exitWithin } from './exit.js'
import { audit } from './commands/audit.js'
import { keygen } from './commands/keygen.js'
import { keysIssue, keysList, keysRevoke, keysRotate, keysShow, keysUpdate } from './commands/keys.js'
import { inboxDead, inboxExtend, inboxNack, inboxPurge, inboxRedrive, inboxReject } from './commands/inbox.js'
import { mechasAdd, mechasDeadLetters, mechasList, mechasRemove, mechasShow, mechasUpdate } from './commands/mechas.js'
import { modesList, modesPut, modesRemove } from './commands/modes.js'
import { listen, send, whoami } from './commands/runtime.js'
import { sessionsCancel, sessionsCommit, sessionsList, sessionsSend, sessionsShow, sessionsStart } from './commands/sessions.js'
import { INBOX_USAGE, KEYS_USAGE, MAIN_USAGE, MECHAS_USAGE, MODES_USAGE, SERVE_USAGE, SESSIONS_USAGE, USAGE } from './usage.js'

interface Group {
  usage: string
  commands: Readonly<Record<string, { run: Command; usage: string }>>
}

const GROUPS: Readonly<Record<string, Group>> = {
  mechas: {
    usage: MECHAS_USAGE,
    commands: {
      add: { run: mechasAdd, usage: USAGE.mechasAdd },
      list: { run: mechasList, usage: USAGE.mechasList },
      show: { run: mechasShow, usage: USAGE.mechasShow },
      update: { run: mechasUpdate, usage: USAGE.mechasUpdate },
      remove: { run: mechasRemove, usage: USAGE.mechasRemove },
      'dead-letters': { run: mechasDeadLetters, usage: USAGE.mechasDeadLetters },
    },
  },
  inbox: {
    usage: INBOX_USAGE,
    commands: {
      nack: { run: inboxNack, usage: USAGE.inboxNack },
      extend: { run: inboxExtend, usage: USAGE.inboxExtend },
      reject: { run: inboxReject, usage: USAGE.inboxReject },
      dead: { run: inboxDead, usage: USAGE.inboxDead },
      redrive: { run: inboxRedrive, usage: USAGE.inboxRedrive },
      purge: { run: inboxPurge, usage: USAGE.inboxPurge },
    },
  },
  keys: {
    usage: KEYS_USAGE,
    commands: {
      issue: { run: keysIssue, usage: USAGE.keysIssue },
      list: { run: keysList, usage: USAGE.keysList },
      show: { run: keysShow, usage: USAGE.keysShow },
      update: { run: keysUpdate, usage: USAGE.keysUpdate },
      revoke: { run: keysRevoke, usage: USAGE.keysRevoke },
      rotate: { run: keysRotate, usage: USAGE.keysRotate },
    },
  },
  modes: {
    usage: MODES_USAGE,
    commands: {
      list: { run: modesList, usage: USAGE.modesList },
      put: { run: modesPut, usage: USAGE.modesPut },
      remove: { run: modesRemove, usage: USAGE.modesRemove },
    },
  },
  sessions: {
    usage: SESSIONS_USAGE,
    commands: {
      start: { run: sessionsStart, usage: USAGE.sessionsStart },
      list: { run: sessionsList, usage: USAGE.sessionsList },
      show: { run: sessionsShow, usage: USAGE.sessionsShow },
      send: { run: sessionsSend, usage: USAGE.sessionsSend },
      commit: { run: sessionsCommit, usage: USAGE.sessionsCommit },
      cancel: { run: sessionsCancel, usage: USAGE.sessionsCancel },
    },
  },
}

/** One-word commands: a runtime's (send, listen, whoami), keygen and audit. */
const COMMANDS: Readonly<Record<string, { run: Command; usage: string }>> = {
  audit: { run: audit, usage: USAGE.audit },
  keygen: { run: keygen, usage: USAGE.keygen },
  send: { run: send, usage: USAGE.send },
  listen: { run: listen, usage: USAGE.listen },
  whoami: { run: whoami, usage: USAGE.whoami },
}

const HELP_WORDS = new Set(['help', '--help', '-h'])

/** Dispatch `mecharim <command> [<subcommand>] ...` and return the exit code. */
export async function runCli(io: CommandIo): Promise<number> {
  const [first, second, ...rest] = io.argv
  if (first === undefined) return usageError(io, 'missing command', MAIN_USAGE)
  if (HELP_WORDS.has(first)) return help(io, io.argv.slice(1))
  // Loaded on demand: the server pulls in Fastify and the stores, which the HTTP commands never need.
  if (first === 'serve') return (await import('./commands/serve.js')).serve({ ...io, argv: io.argv.slice(1) })
  const single = own(COMMANDS, first)
  if (single !== undefined) return single.run({ ...io, argv: io.argv.slice(1) })
  const group = own(GROUPS, first)
  if (group === undefined) {
    const hint = first.startsWith('-') ? ' (options go after the command)' : ''
    return usageError(io, `unknown command ${JSON.stringify(first)}${hint}`, MAIN_USAGE)
  }
  if (second === undefined) return usageError(io, `missing ${first} command`, group.usage)
  if (HELP_WORDS.has(second)) return print(io, group.usage)
  const command = own(group.commands, second)
  if (command === undefined) return usageError(io, `unknown command ${JSON.stringify(`${first} ${second}`)}`, group.usage)
  return command.run({ ...io, argv: rest })
}

/** `mecharim help [group [command]]`. */
function help(io: CommandIo, topic: readonly string[]): number {
  const [first, second] = topic
  if (first === undefined) return print(io, MAIN_USAGE)
  if (first === 'serve') return print(io, SERVE_USAGE)
  const single = own(COMMANDS, first)
  if (single !== undefined) return print(io, single.usage)
  const group = own(GROUPS, first)
  if (group === undefined) return usageError(io, `no help for ${JSON.stringify(first)}`, MAIN_USAGE)
  if (second === undefined) return print(io, group.usage)
  const command = own(group.commands, second)
  if (command === undefined) return usageError(io, `no help for ${JSON.stringify(`${first} ${second}`)}`, group.usage)
  return print(io, command.usage)
}

/** Lookup by a user-typed word: `constructor` or `__proto__` must not find Object.prototype members. */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined
}

function print(io: CommandIo, usage: string): number {
  io.stdout.write(usage)
  return 0
}

function usageError(io: CommandIo, message: string, usage: string): number {
  io.stderr.write(`error: ${message}\n\n${usage}`)
  return 2
}

async function main(): Promise<void> {
  const code = await runCli({ argv: process.argv.slice(2), env: process.env, stdout: process.stdout, stderr: process.stderr })
  // Let piped output drain first (process.exit does not wait for asynchronous writes), but not for
  // ever: a reader that stopped reading must not keep the process alive (`mecharim serve | ...`).
  const drained = Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))))
  await Promise.race([drained, new Promise<void>((resolve) => setTimeout(resolve, EXIT_DEADLINE_MS).unref())])
  await exitWithin(code)
}

/** True when this file is the program (run directly or through the npm bin symlink), false when imported. */
function isEntryPoint(): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  main().catch((err: unknown) => {
    console.error('mecharim: unexpected failure:', err instanceof Error ? err.message : err)
    process.exit(1)
  })
}
