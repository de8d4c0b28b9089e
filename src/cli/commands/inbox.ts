import type { DeadLetter, DeadLetterPage, MechaClient } from '../../client/index.js'
import { UsageError, parseWholeNumber } from '../args.js'
import { printJson, printUsage, type CommandIo } from '../command.js'
import { formatTime, orDash, renderTable } from '../format.js'
import { RUNTIME_OPTIONS, parseRuntime, runRuntime, runtimeClient, sdk, type RuntimeIo } from '../runtime-client.js'
import { USAGE } from '../usage.js'

// `mecharim inbox nack|extend|reject|dead|redrive|purge` (issue 14): a recipient's controls over its
// own delivered messages and dead letters, as a runtime (the Mecha key from the environment).

const JSON_OPTION = { json: { type: 'boolean' } } as const
/** The gateway takes 1 to 100 ids per call. */
const MAX_IDS = 100

export function inboxNack(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.inboxNack, async () => {
    const { values, positionals } = parseRuntime(io.argv, { ...RUNTIME_OPTIONS, ...JSON_OPTION, delay: { type: 'string' } })
    if (values.help === true) return printUsage(io, USAGE.inboxNack)
    const ids = messageIds(positionals)
    const delaySeconds = values.delay === undefined ? undefined : parseWholeNumber('delay', values.delay)
    const client = await runtimeClient(io, values)
    const result = await sdk(() => client.nack(ids, delaySeconds === undefined ? {} : { delaySeconds }))
    if (values.json === true) return printJson(io, result)
    const when = delaySeconds === undefined ? ' after the recipient\'s backoff' : delaySeconds === 0 ? '' : ` in ${delaySeconds} s`
    io.stdout.write(`Nacked ${result.nacked} of ${count(ids, 'message')}${result.nacked > 0 ? `: delivered again${when}` : ''}.\n`)
    return 0
  })
}

export function inboxExtend(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.inboxExtend, async () => {
    const { values, positionals } = parseRuntime(io.argv, { ...RUNTIME_OPTIONS, ...JSON_OPTION, seconds: { type: 'string' } })
    if (values.help === true) return printUsage(io, USAGE.inboxExtend)
    const ids = messageIds(positionals)
    if (values.seconds === undefined) throw new UsageError('--seconds is required')
    const seconds = parseWholeNumber('seconds', values.seconds)
    const client = await runtimeClient(io, values)
    const result = await sdk(() => client.extend(ids, seconds))
    if (values.json === true) return printJson(io, result)
    io.stdout.write(`Extended ${result.extended} of ${count(ids, 'message')}${result.extended > 0 ? `: invisible for ${seconds} s more` : ''}.\n`)
    return 0
  })
}

export function inboxReject(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.inboxReject, async () => {
    const { values, positionals } = parseRuntime(io.argv, { ...RUNTIME_OPTIONS, ...JSON_OPTION, reason: { type: 'string' } })
    if (values.help === true) return printUsage(io, USAGE.inboxReject)
    const ids = messageIds(positionals)
    const client = await runtimeClient(io, values)
    const result = await sdk(() => client.reject(ids, values.reason === undefined ? {} : { reason: values.reason }))
    if (values.json === true) return printJson(io, result)
    io.stdout.write(`Rejected ${result.rejected} of ${count(ids, 'message')}${result.rejected > 0 ? `: now ${result.rejected === 1 ? 'a dead letter' : 'dead letters'}` : ''}.\n`)
    return 0
  })
}

export function inboxDead(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.inboxDead, async () => {
    const { values, positionals } = parseRuntime(io.argv, { ...RUNTIME_OPTIONS, ...JSON_OPTION, limit: { type: 'string' }, after: { type: 'string' } })
    if (values.help === true) return printUsage(io, USAGE.inboxDead)
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const limit = values.limit === undefined ? undefined : parseWholeNumber('limit', values.limit)
    const client: MechaClient = await runtimeClient(io, values)
    const page = await sdk(() => client.deadLetters({ ...(limit !== undefined ? { limit } : {}), ...(values.after !== undefined ? { after: values.after } : {}) }))
    if (values.json === true) return printJson(io, page)
    printDeadLetters(io, page, 'mecharim inbox dead')
    return 0
  })
}

export function inboxRedrive(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.inboxRedrive, async () => {
    const { values, positionals } = parseRuntime(io.argv, { ...RUNTIME_OPTIONS, ...JSON_OPTION })
    if (values.help === true) return printUsage(io, USAGE.inboxRedrive)
    const ids = messageIds(positionals)
    const client = await runtimeClient(io, values)
    const result = await sdk(() => client.redrive(ids))
    if (values.json === true) return printJson(io, result)
    io.stdout.write(`Redrove ${result.redriven} of ${count(ids, 'dead letter')}${result.redriven > 0 ? ': back in the inbox' : ''}.\n`)
    return 0
  })
}

export function inboxPurge(io: RuntimeIo): Promise<number> {
  return runRuntime(io, USAGE.inboxPurge, async () => {
    const { values, positionals } = parseRuntime(io.argv, { ...RUNTIME_OPTIONS, ...JSON_OPTION })
    if (values.help === true) return printUsage(io, USAGE.inboxPurge)
    const ids = messageIds(positionals)
    const client = await runtimeClient(io, values)
    const result = await sdk(() => client.purgeDeadLetters(ids))
    if (values.json === true) return printJson(io, result)
    io.stdout.write(`Purged ${result.purged} of ${count(ids, 'dead letter')}.\n`)
    return 0
  })
}

/** 1 to 100 distinct message ids from the positionals (their format is the SDK's and the gateway's to check). */
export function messageIds(positionals: readonly string[]): string[] {
  if (positionals.length === 0) throw new UsageError('missing <id>')
  if (positionals.length > MAX_IDS) throw new UsageError(`at most ${MAX_IDS} message ids at once, got ${positionals.length}`)
  const seen = new Set<string>()
  for (const id of positionals) {
    if (seen.has(id)) throw new UsageError(`repeated message id ${JSON.stringify(id)}`)
    seen.add(id)
  }
  return [...positionals]
}

/** A page of dead letters as a table (or "No dead letters."), the next page's command on stderr. */
export function printDeadLetters(io: CommandIo, page: DeadLetterPage, command: string): void {
  if (page.dead_letters.length === 0) {
    io.stdout.write('No dead letters.\n')
  } else {
    io.stdout.write(renderTable(['ID', 'REASON', 'DELIVERIES', 'FROM', 'KIND', 'DEAD-LETTERED', 'EXPIRES', 'DETAIL'], page.dead_letters.map(deadLetterRow)))
  }
  if (page.next !== null) io.stderr.write(`More: ${command} --after ${page.next}\n`)
}

function deadLetterRow(dead: DeadLetter): string[] {
  return [dead.message.id, dead.reason, String(dead.deliveries), dead.message.from, dead.message.kind, formatTime(dead.dead_lettered_at), formatTime(dead.expires_at), orDash(dead.detail ?? null)]
}

export function count(ids: readonly string[], noun: string): string {
  return `${ids.length} ${noun}${ids.length === 1 ? '' : 's'}`
}
