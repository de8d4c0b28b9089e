import type { MechaView } from '../../control-plane/key-view.js'
import type { MechaCreateInput, MechaUpdateInput } from '../../control-plane/service.js'
import { CONNECTION_OPTIONS, UsageError, expectPositionals, parseCommand, parseList, parseWholeNumber } from '../args.js'
import { connect, printJson, printUsage, runCommand, type CommandIo } from '../command.js'
import { formatList, formatTime, orDash, renderFields, renderTable } from '../format.js'
import { USAGE } from '../usage.js'
import { count, messageIds, printDeadLetters } from './inbox.js'

export function mechasAdd(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.mechasAdd, async () => {
    const { values, positionals } = parseCommand(io.argv, {
      ...CONNECTION_OPTIONS,
      name: { type: 'string' },
      description: { type: 'string' },
      listed: { type: 'boolean' },
      accepts: { type: 'string' },
    })
    if (values.help === true) return printUsage(io, USAGE.mechasAdd)
    const [id] = expectPositionals(positionals, ['id'])
    const input: MechaCreateInput = { id }
    if (values.name !== undefined) input.name = values.name
    if (values.description !== undefined) input.description = values.description
    if (values.listed === true) input.listed = true
    if (values.accepts !== undefined) input.accepts = parseList('accepts', values.accepts)
    const body = await (await connect(io, values)).createMecha(input)
    if (values.json === true) return printJson(io, body)
    io.stdout.write(`Registered mecha ${body.mecha.id}\n\n${renderMecha(body.mecha)}`)
    return 0
  })
}

export function mechasList(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.mechasList, async () => {
    const { values, positionals } = parseCommand(io.argv, { ...CONNECTION_OPTIONS, limit: { type: 'string' }, after: { type: 'string' } })
    if (values.help === true) return printUsage(io, USAGE.mechasList)
    expectPositionals(positionals, [])
    const limit = values.limit === undefined ? undefined : parseWholeNumber('limit', values.limit)
    const body = await (await connect(io, values)).listMechas({ limit, after: values.after })
    if (values.json === true) return printJson(io, body)
    if (body.mechas.length === 0) {
      io.stdout.write('No mechas.\n')
    } else {
      io.stdout.write(renderTable(
        ['ID', 'STATUS', 'LISTED', 'NAME', 'ACCEPTS', 'CREATED'],
        body.mechas.map((m) => [m.id, m.status, m.listed ? 'yes' : 'no', orDash(m.name), formatList(m.accepts), formatTime(m.created_at)]),
      ))
    }
    // On stderr so stdout stays just the table.
    if (body.next !== null) io.stderr.write(`More: mecharim mechas list --after ${body.next}\n`)
    return 0
  })
}

export function mechasShow(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.mechasShow, async () => {
    const { values, positionals } = parseCommand(io.argv, CONNECTION_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.mechasShow)
    const [id] = expectPositionals(positionals, ['id'])
    const body = await (await connect(io, values)).getMecha(id)
    if (values.json === true) return printJson(io, body)
    io.stdout.write(renderMecha(body.mecha))
    return 0
  })
}

export function mechasUpdate(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.mechasUpdate, async () => {
    const { values, positionals } = parseCommand(io.argv, {
      ...CONNECTION_OPTIONS,
      name: { type: 'string' },
      description: { type: 'string' },
      listed: { type: 'boolean' },
      unlisted: { type: 'boolean' },
      accepts: { type: 'string' },
      'max-deliveries': { type: 'string' },
      backoff: { type: 'string' },
      visibility: { type: 'string' },
      'dead-letter-ttl': { type: 'string' },
    })
    if (values.help === true) return printUsage(io, USAGE.mechasUpdate)
    const [id] = expectPositionals(positionals, ['id'])
    if (values.listed === true && values.unlisted === true) throw new UsageError('give either --listed or --unlisted, not both')
    // An empty --name or --description clears it (the API's null).
    const input: MechaUpdateInput = {}
    if (values.name !== undefined) input.name = values.name === '' ? null : values.name
    if (values.description !== undefined) input.description = values.description === '' ? null : values.description
    if (values.listed === true) input.listed = true
    if (values.unlisted === true) input.listed = false
    if (values.accepts !== undefined) input.accepts = parseList('accepts', values.accepts)
    const delivery: NonNullable<MechaUpdateInput['delivery']> = {}
    if (values['max-deliveries'] !== undefined) delivery.max_deliveries = parseWholeNumber('max-deliveries', values['max-deliveries'])
    if (values.backoff !== undefined) delivery.backoff_seconds = parseBackoff(values.backoff)
    if (values.visibility !== undefined) delivery.visibility_seconds = parseWholeNumber('visibility', values.visibility)
    if (values['dead-letter-ttl'] !== undefined) delivery.dead_letter_ttl_seconds = parseWholeNumber('dead-letter-ttl', values['dead-letter-ttl'])
    if (Object.keys(delivery).length > 0) input.delivery = delivery
    if (Object.keys(input).length === 0) {
      throw new UsageError('nothing to change: give at least one of --name, --description, --listed, --unlisted, --accepts, --max-deliveries, --backoff, --visibility, --dead-letter-ttl')
    }
    const body = await (await connect(io, values)).updateMecha(id, input)
    if (values.json === true) return printJson(io, body)
    io.stdout.write(`Updated mecha ${body.mecha.id}\n\n${renderMecha(body.mecha)}`)
    return 0
  })
}

/** `mecharim mechas dead-letters <id>`: list a mecha's dead letters, or redrive some (--redrive). */
export function mechasDeadLetters(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.mechasDeadLetters, async () => {
    const { values, positionals } = parseCommand(io.argv, {
      ...CONNECTION_OPTIONS, limit: { type: 'string' }, after: { type: 'string' }, redrive: { type: 'string', multiple: true },
    })
    if (values.help === true) return printUsage(io, USAGE.mechasDeadLetters)
    const [id] = expectPositionals(positionals, ['id'])
    if (values.redrive !== undefined) {
      if (values.limit !== undefined || values.after !== undefined) throw new UsageError('--redrive does not list: give it without --limit and --after')
      const ids = messageIds(values.redrive)
      const body = await (await connect(io, values)).redriveDeadLetters(id, ids)
      if (values.json === true) return printJson(io, body)
      io.stdout.write(`Redrove ${body.redriven} of ${count(ids, 'dead letter')} of ${id}${body.redriven > 0 ? ': back in its inbox' : ''}.\n`)
      return 0
    }
    const limit = values.limit === undefined ? undefined : parseWholeNumber('limit', values.limit)
    const page = await (await connect(io, values)).listDeadLetters(id, { limit, after: values.after })
    if (values.json === true) return printJson(io, page)
    printDeadLetters(io, page, `mecharim mechas dead-letters ${id}`)
    return 0
  })
}

/** `--backoff 5,30,300` as whole seconds; "" for none. */
function parseBackoff(raw: string): number[] {
  if (raw.trim() === '') return []
  const items = raw.split(',').map((item) => item.trim())
  if (!items.every((item) => /^\d+$/.test(item))) throw new UsageError(`--backoff expects comma-separated whole seconds, got ${JSON.stringify(raw)}`)
  return items.map(Number)
}

export function mechasRemove(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.mechasRemove, async () => {
    const { values, positionals } = parseCommand(io.argv, CONNECTION_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.mechasRemove)
    const [id] = expectPositionals(positionals, ['id'])
    const body = await (await connect(io, values)).deactivateMecha(id)
    if (values.json === true) return printJson(io, body)
    io.stdout.write(`Deactivated mecha ${body.mecha.id} at ${formatTime(body.mecha.deactivated_at)}: its keys no longer work.\n`)
    return 0
  })
}

function renderMecha(mecha: MechaView): string {
  return renderFields([
    ['id', mecha.id],
    ['status', mecha.status],
    ['name', orDash(mecha.name)],
    ['description', orDash(mecha.description)],
    ['listed', mecha.listed ? 'yes' : 'no'],
    ['accepts', formatList(mecha.accepts)],
    ['created', `${formatTime(mecha.created_at)} by ${mecha.created_by}`],
    ['updated', formatTime(mecha.updated_at)],
    ['deactivated', formatTime(mecha.deactivated_at)],
    ['delivery', renderDelivery(mecha.delivery)],
  ])
}

function renderDelivery(delivery: MechaView['delivery']): string {
  const backoff = delivery.backoff_seconds.length === 0 ? 'none' : `${delivery.backoff_seconds.join(', ')} s`
  return `${delivery.max_deliveries} deliveries, backoff ${backoff}, visibility ${delivery.visibility_seconds} s, dead letters kept ${delivery.dead_letter_ttl_seconds} s`
}
