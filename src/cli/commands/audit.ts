import { AUDIT_TYPES, type AuditEvent, type AuditType } from '../../model.js'
import { CONNECTION_OPTIONS, UsageError, expectPositionals, parseCommand, parseWholeNumber } from '../args.js'
import { connect, printJson, printUsage, runCommand, type CommandIo } from '../command.js'
import { formatTime, orDash, renderTable } from '../format.js'
import { USAGE } from '../usage.js'

const AUDIT_OPTIONS = { ...CONNECTION_OPTIONS, type: { type: 'string' }, limit: { type: 'string' }, before: { type: 'string' } } as const

/** `mecharim audit`: the audit trail, newest first (GET /v1/audit; needs the audit:read scope). */
export function audit(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.audit, async () => {
    const { values, positionals } = parseCommand(io.argv, AUDIT_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.audit)
    expectPositionals(positionals, [])
    const type = values.type === undefined ? undefined : auditType(values.type)
    const limit = values.limit === undefined ? undefined : parseWholeNumber('limit', values.limit)
    const body = await (await connect(io, values)).listAudit({ limit, type, before: values.before })
    if (values.json === true) return printJson(io, body)
    io.stdout.write(body.events.length === 0 ? 'No audit events.\n' : renderTable(
      ['TIME', 'TYPE', 'OPERATOR', 'TARGET', 'REQUEST'],
      body.events.map((e: AuditEvent) => [formatTime(e.time), e.type, orDash(e.operator), `${e.target.kind} ${e.target.id}`, e.request_id]),
    ))
    // On stderr so stdout stays just the table; the same filters, one page further.
    if (body.next !== null) {
      const filters = [type !== undefined ? `--type ${type}` : '', limit !== undefined ? `--limit ${limit}` : ''].filter((f) => f !== '').join(' ')
      io.stderr.write(`More: mecharim audit ${filters === '' ? '' : `${filters} `}--before ${body.next}\n`)
    }
    return 0
  })
}

function auditType(raw: string): AuditType {
  const type = AUDIT_TYPES.find((t) => t === raw)
  if (type === undefined) throw new UsageError(`--type expects one of ${AUDIT_TYPES.join(', ')}, got ${JSON.stringify(raw)}`)
  return type
}
