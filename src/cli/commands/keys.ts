import type { KeyIssueInput, KeyUpdateInput } from '../../control-plane/service.js'
import { SIGNATURE_ALGORITHMS, type Permissions, type SignatureAlgorithm } from '../../model.js'
import {
  CONNECTION_OPTIONS, UsageError, expectPositionals, parseCommand, parseList, parseRateLimit, parseWholeNumber,
} from '../args.js'
import { connect, printJson, printUsage, runCommand, type CommandIo } from '../command.js'
import { formatTime } from '../format.js'
import { USAGE } from '../usage.js'
import { JSON_SECRETS_NOTE, renderKey, renderKeyTable, renderRotation, renderSecrets } from './key-output.js'

/** The flags `keys issue` and `keys update` share: a key's label and policy. */
const POLICY_OPTIONS = {
  ...CONNECTION_OPTIONS,
  label: { type: 'string' },
  ttl: { type: 'string' },
  'expires-at': { type: 'string' },
  recipients: { type: 'string' },
  kinds: { type: 'string' },
  'max-message-bytes': { type: 'string' },
  sign: { type: 'string' },
  'require-signature': { type: 'boolean' },
  'public-key': { type: 'string', multiple: true },
  'rate-limit': { type: 'string' },
} as const
const ISSUE_OPTIONS = POLICY_OPTIONS
/** What only an update can say: take a setting away (parseArgs on Node 20 has no --no-X negation). */
const UPDATE_OPTIONS = {
  ...POLICY_OPTIONS,
  'no-expiry': { type: 'boolean' },
  'optional-signature': { type: 'boolean' },
  'no-rate-limit': { type: 'boolean' },
} as const

export function keysIssue(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.keysIssue, async () => {
    const { values, positionals } = parseCommand(io.argv, ISSUE_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.keysIssue)
    const [mechaId] = expectPositionals(positionals, ['mecha'])
    const issued = await (await connect(io, values)).issueKey(mechaId, issueInput(values))
    if (values.json === true) {
      io.stderr.write(JSON_SECRETS_NOTE)
      return printJson(io, issued)
    }
    io.stdout.write(`Issued key ${issued.key.id} for mecha ${issued.key.mecha}.\n\n${renderKey(issued.key)}${renderSecrets(issued)}`)
    return 0
  })
}

export function keysList(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.keysList, async () => {
    const { values, positionals } = parseCommand(io.argv, CONNECTION_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.keysList)
    const [mechaId] = expectPositionals(positionals, ['mecha'])
    const body = await (await connect(io, values)).listKeys(mechaId)
    if (values.json === true) return printJson(io, body)
    io.stdout.write(renderKeyTable(body.keys))
    return 0
  })
}

export function keysShow(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.keysShow, async () => {
    const { values, positionals } = parseCommand(io.argv, CONNECTION_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.keysShow)
    const [keyId] = expectPositionals(positionals, ['key id'])
    const body = await (await connect(io, values)).getKey(keyId)
    if (values.json === true) return printJson(io, body)
    io.stdout.write(renderKey(body.key))
    return 0
  })
}

export function keysUpdate(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.keysUpdate, async () => {
    const { values, positionals } = parseCommand(io.argv, UPDATE_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.keysUpdate)
    const [keyId] = expectPositionals(positionals, ['key id'])
    const input = updateInput(values)
    const body = await (await connect(io, values)).updateKey(keyId, input)
    if (values.json === true) return printJson(io, body)
    io.stdout.write(`Updated key ${body.key.id}.\n\n${renderKey(body.key)}`)
    return 0
  })
}

export function keysRevoke(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.keysRevoke, async () => {
    const { values, positionals } = parseCommand(io.argv, CONNECTION_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.keysRevoke)
    const [keyId] = expectPositionals(positionals, ['key id'])
    const body = await (await connect(io, values)).revokeKey(keyId)
    if (values.json === true) return printJson(io, body)
    io.stdout.write(`Revoked key ${body.key.id} at ${formatTime(body.key.revoked_at)}: its tokens and signing secrets no longer work.\n`)
    return 0
  })
}

export function keysRotate(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.keysRotate, async () => {
    const { values, positionals } = parseCommand(io.argv, { ...CONNECTION_OPTIONS, grace: { type: 'string' } })
    if (values.help === true) return printUsage(io, USAGE.keysRotate)
    const [keyId] = expectPositionals(positionals, ['key id'])
    const grace = values.grace === undefined ? undefined : parseWholeNumber('grace', values.grace)
    const rotated = await (await connect(io, values)).rotateKey(keyId, grace)
    if (values.json === true) {
      io.stderr.write(JSON_SECRETS_NOTE)
      return printJson(io, rotated)
    }
    io.stdout.write(renderRotation(rotated))
    return 0
  })
}

type PolicyValues = ReturnType<typeof parseCommand<typeof POLICY_OPTIONS>>['values']
type UpdateValues = ReturnType<typeof parseCommand<typeof UPDATE_OPTIONS>>['values']

/** Flags to the request body. Syntax is checked here; meaning (patterns, ranges, policy) by the server. */
function issueInput(values: PolicyValues): KeyIssueInput {
  if (values.ttl !== undefined && values['expires-at'] !== undefined) throw new UsageError('give either --ttl or --expires-at, not both')
  return { ...(values.label !== undefined ? { label: values.label } : {}), ...policyInput(values) }
}

/** An update sends only what was given; an empty --label, --no-expiry and --no-rate-limit clear a setting. */
function updateInput(values: UpdateValues): KeyUpdateInput {
  const expiry = [values.ttl !== undefined, values['expires-at'] !== undefined, values['no-expiry'] === true].filter(Boolean).length
  if (expiry > 1) throw new UsageError('give one of --ttl, --expires-at and --no-expiry')
  if (values['require-signature'] === true && values['optional-signature'] === true) {
    throw new UsageError('give either --require-signature or --optional-signature, not both')
  }
  if (values['rate-limit'] !== undefined && values['no-rate-limit'] === true) throw new UsageError('give either --rate-limit or --no-rate-limit, not both')
  const input: KeyUpdateInput = policyInput(values)
  if (values.label !== undefined) input.label = values.label === '' ? null : values.label
  if (values['no-expiry'] === true) input.expires_at = null
  if (values['optional-signature'] === true) input.signature = { ...input.signature, required: false }
  if (values['no-rate-limit'] === true) input.rate_limit = null
  if (Object.keys(input).length === 0) {
    throw new UsageError('nothing to change: give a label or a policy flag (see `mecharim keys update --help`)')
  }
  return input
}

function policyInput(values: PolicyValues): KeyIssueInput {
  const input: KeyIssueInput = {}
  if (values.ttl !== undefined) input.ttl_seconds = parseWholeNumber('ttl', values.ttl)
  if (values['expires-at'] !== undefined) input.expires_at = values['expires-at']
  const permissions: Partial<Permissions> = {}
  if (values.recipients !== undefined) permissions.recipients = parseList('recipients', values.recipients)
  if (values.kinds !== undefined) permissions.kinds = parseList('kinds', values.kinds)
  if (values['max-message-bytes'] !== undefined) permissions.max_message_bytes = parseWholeNumber('max-message-bytes', values['max-message-bytes'])
  if (Object.keys(permissions).length > 0) input.permissions = permissions
  if (values.sign !== undefined || values['require-signature'] === true) {
    input.signature = {
      ...(values.sign !== undefined ? { algorithms: parseAlgorithms(values.sign) } : {}),
      ...(values['require-signature'] === true ? { required: true } : {}),
    }
  }
  if (values['public-key'] !== undefined) input.public_keys = values['public-key']
  if (values['rate-limit'] !== undefined) input.rate_limit = parseRateLimit('rate-limit', values['rate-limit'])
  return input
}

function parseAlgorithms(raw: string): SignatureAlgorithm[] {
  return parseList('sign', raw).map((name) => {
    const algorithm = SIGNATURE_ALGORITHMS.find((a) => a === name)
    if (algorithm === undefined) throw new UsageError(`--sign expects ${SIGNATURE_ALGORITHMS.join(' and/or ')}, got ${JSON.stringify(name)}`)
    return algorithm
  })
}
