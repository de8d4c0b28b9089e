import type { ModeInput } from '../../control-plane/modes.js'
import type { ModeRecord } from '../../model.js'
import { CONNECTION_OPTIONS, UsageError, expectPositionals, parseCommand, parseList, parseWholeNumber } from '../args.js'
import { connect, printJson, printUsage, runCommand, type CommandIo } from '../command.js'
import { formatList, formatTime, orDash, renderFields, renderTable } from '../format.js'
import { USAGE } from '../usage.js'

const PUT_OPTIONS = {
  ...CONNECTION_OPTIONS,
  kind: { type: 'string', multiple: true },
  description: { type: 'string' },
  version: { type: 'string' },
} as const

/** The naming convention of src/schemas/modes.ts: `<protocol>.v<N>`. */
const VERSION_SUFFIX_RE = /\.v(\d+)$/

/** `mecharim modes list`: the live modes (GET /v1/modes, open: no operator token needed). */
export function modesList(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.modesList, async () => {
    const { values, positionals } = parseCommand(io.argv, CONNECTION_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.modesList)
    expectPositionals(positionals, [])
    const body = await (await connect(io, values, { open: true })).listModes()
    if (values.json === true) return printJson(io, body)
    io.stdout.write(body.modes.length === 0 ? 'No modes.\n' : renderTable(
      ['NAME', 'VERSION', 'KINDS', 'DESCRIPTION', 'UPDATED'],
      body.modes.map((m) => [m.name, String(m.version), formatList(m.kinds), orDash(m.description), formatTime(m.updated_at)]),
    ))
    return 0
  })
}

/** `mecharim modes put <name> --kind K...`: create or replace a mode (PUT /v1/modes/{name}, keys:write). */
export function modesPut(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.modesPut, async () => {
    const { values, positionals } = parseCommand(io.argv, PUT_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.modesPut)
    const [name] = expectPositionals(positionals, ['name'])
    const kinds = (values.kind ?? []).flatMap((raw) => parseList('kind', raw))
    if (kinds.length === 0) throw new UsageError('give at least one --kind')
    const input: ModeInput = { kinds, version: modeVersion(name, values.version) }
    if (values.description !== undefined) input.description = values.description === '' ? null : values.description
    const body = await (await connect(io, values)).putMode(name, input)
    if (values.json === true) return printJson(io, { mode: body.mode })
    // A 200 is a replace or a put of what was stored: the revision tells which.
    const heading = body.created ? `Created mode ${body.mode.name}` : `Saved mode ${body.mode.name} (revision ${body.mode.revision})`
    io.stdout.write(`${heading}\n\n${renderMode(body.mode)}`)
    return 0
  })
}

/** `mecharim modes remove <name>`: delete a mode (DELETE /v1/modes/{name}, keys:write). */
export function modesRemove(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.modesRemove, async () => {
    const { values, positionals } = parseCommand(io.argv, CONNECTION_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.modesRemove)
    const [name] = expectPositionals(positionals, ['name'])
    await (await connect(io, values)).deleteMode(name)
    if (values.json === true) return printJson(io, { removed: name })
    io.stdout.write(`Removed mode ${name}.\n`)
    return 0
  })
}

/** --version, or the name's `.v<N>` suffix (the API requires a version; the convention gives it). */
function modeVersion(name: string, raw: string | undefined): number {
  if (raw !== undefined) return parseWholeNumber('version', raw)
  const suffix = VERSION_SUFFIX_RE.exec(name)?.[1]
  if (suffix === undefined) throw new UsageError(`--version N is required: the name ${JSON.stringify(name)} has no .v<N> suffix`)
  return Number(suffix)
}

function renderMode(mode: ModeRecord): string {
  return renderFields([
    ['name', mode.name],
    ['version', String(mode.version)],
    ['kinds', formatList(mode.kinds)],
    ['description', orDash(mode.description)],
    ['revision', String(mode.revision)],
    ['created', `${formatTime(mode.created_at)} by ${mode.created_by}`],
    ['updated', `${formatTime(mode.updated_at)} by ${mode.updated_by}`],
  ])
}
