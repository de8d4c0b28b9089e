import type { KeyView } from '../../control-plane/key-view.js'
import type { IssuedKey } from '../../control-plane/service.js'
import { formatList, formatTime, orDash, renderFields, renderTable } from '../format.js'

export function renderKeyTable(keys: readonly KeyView[]): string {
  if (keys.length === 0) return 'No keys.\n'
  return renderTable(
    ['ID', 'STATUS', 'LABEL', 'SIGNATURE', 'EXPIRES', 'CREATED'],
    keys.map((k) => [k.id, k.status, orDash(k.label), signature(k), formatTime(k.expires_at, 'never'), formatTime(k.created_at)]),
  )
}

export function renderKey(key: KeyView): string {
  return renderFields([
    ['id', key.id],
    ['mecha', key.mecha],
    ['label', orDash(key.label)],
    ['status', key.status],
    ['created', `${formatTime(key.created_at)} by ${key.created_by}`],
    ['updated', formatTime(key.updated_at)],
    ['expires', formatTime(key.expires_at, 'never')],
    ['revoked', key.revoked_at === null ? '-' : `${formatTime(key.revoked_at)} by ${key.revoked_by ?? '?'}`],
    ['recipients', formatList(key.permissions.recipients)],
    ['kinds', formatList(key.permissions.kinds)],
    ['max message bytes', String(key.permissions.max_message_bytes)],
    ['signature', signature(key)],
    ['public keys', formatList(key.public_keys)],
    ['rate limit', key.rate_limit === null ? 'none' : `${key.rate_limit.requests} requests per ${key.rate_limit.per_seconds} s`],
    ...key.credentials.map((c): [string, string] => [
      `generation ${c.generation}`,
      `created ${formatTime(c.created_at)}${c.signing_secret ? ', with signing secret' : ''}${c.expires_at === null ? '' : `, works until ${formatTime(c.expires_at)}`}`,
    ]),
  ])
}

/** The once-only secrets, set apart so nobody mistakes them for metadata they can fetch again. */
export function renderSecrets(issued: IssuedKey): string {
  const secrets: [string, string][] = [['key id', issued.key.id], ['token', issued.token]]
  if (issued.signing_secret !== undefined) secrets.push(['signing secret', issued.signing_secret])
  const lines = renderFields(secrets).split('\n').filter((line) => line !== '').map((line) => `  ${line}`)
  return [
    '',
    'Shown once — store it now. The server keeps only a digest and cannot show it again:',
    '',
    ...lines,
    '',
  ].join('\n') + '\n'
}

/** Where --json output carries secrets: say so on stderr, leaving stdout pure JSON. */
export const JSON_SECRETS_NOTE = 'note: the token (and signing secret) in this response are shown once — store them now\n'

export function renderRotation(issued: IssuedKey): string {
  const newest = Math.max(...issued.key.credentials.map((c) => c.generation))
  const previousEnds = issued.key.credentials
    .filter((c) => c.generation !== newest && c.expires_at !== null)
    .map((c) => c.expires_at as string)
    .sort()
  const previous = previousEnds.length === 0
    ? 'The previous token and signing secret no longer work.'
    : `The previous token and signing secret keep working until ${formatTime(previousEnds.at(-1) ?? null)}.`
  return `Rotated key ${issued.key.id} to generation ${newest}. ${previous}\n${renderSecrets(issued)}`
}

function signature(key: KeyView): string {
  if (key.signature.algorithms.length === 0) return 'none'
  return `${key.signature.algorithms.join(', ')} (${key.signature.required ? 'required' : 'optional'})`
}
