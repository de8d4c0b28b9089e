import type { MechaView } from '../../control-plane/key-view.js'
import type { MechaCreateInput, MechaUpdateInput } from '../../control-plane/service.js'
import { CONNECTION_OPTIONS, UsageError, expectPositionals, parseCommand, parseList, parseWholeNumber } from '../args.js'
import { connect, printJson, printUsage, runCommand, type CommandIo } from '../command.js'
import { formatList, formatTime, orDash, renderFields, renderTable } from '../format.js'
import { USAGE } from '../usage.js'

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
    if (Object.keys(input).length === 0) {
      throw new UsageError('nothing to change: give at least one of --name, --description, --listed, --unlisted, --accepts')
    }
    const body = await (await connect(io, values)).updateMecha(id, input)
    if (values.json === true) return printJson(io, body)
    io.stdout.write(`Updated mecha ${body.mecha.id}\n\n${renderMecha(body.mecha)}`)
    return 0
  })
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
  ])
}
