import type { DiscoverySurface } from './content.js'
import type { SignedRequestExample } from './signed-example.js'

/** Plain-text renderings of the tools' structured results, for people reading a transcript. */

/** A value at a dotted path of a plain object, or undefined. */
function at(value: unknown, path: string): unknown {
  let current = value
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string, unknown>)[key]
  }
  return current
}

function str(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => String(v)).join(', ')
  return typeof value === 'string' ? value : JSON.stringify(value)
}

export function authenticationText(model: Record<string, unknown>): string {
  const r = (path: string): string => str(at(model, `runtime.${path}`))
  const checks = (at(model, 'order_of_checks') as { step: number; check: string; refusals: string[] }[] | undefined) ?? []
  return [
    'Mecharim runtime authentication',
    str(model.principle),
    '',
    `Open surfaces: ${str(at(model, 'open'))}`,
    `Operator (control plane): ${str(at(model, 'operator.header'))}: ${str(at(model, 'operator.scheme'))} <operator token>; scopes ${str(at(model, 'operator.scopes'))}.`,
    `Runtime (gateway): ${r('description')}`,
    `- ${str(model.getting_a_key)}`,
    `- ${str(model.signing_for_you)}`,
    `- Token: ${r('token.header')}: ${tokenSchemes(at(model, 'runtime.token.schemes'))}; format ${r('token.format')}.`,
    `- ${r('timestamp.header')}: ${r('timestamp.format')}, accepted within +/- ${r('timestamp.window_seconds')} s of server time.`,
    `- ${r('nonce.header')}: ${r('nonce.format')}, ${r('nonce.min_length')}-${r('nonce.max_length')} characters. ${r('nonce.rule')} Remembered ${r('nonce.remembered_seconds')} s.`,
    `- Signature: ${r('signature.standard')}, profile ${r('signature.profile')}, label "${r('signature.label')}", algorithms ${r('signature.algorithms')}. The ${r('signature.algorithm_rule')}`,
    `  Covered components: ${r('signature.covered_components')}. With a body: ${r('signature.covered_components_with_body')}. Also, when the request sends the header: ${r('signature.covered_when_sent')}.`,
    `  Required parameters: ${r('signature.required_parameters')}. @authority: ${r('signature.authority')}.`,
    `  HMAC key: ${r('signature.hmac_key')}. Ed25519 public key: ${r('signature.ed25519_public_key')}.`,
    `- ${r('signature.digest.header')} (${r('signature.digest.standard')}): ${r('signature.digest.algorithms')} over ${r('signature.digest.over')}.`,
    `- Sender: ${r('sender')}`,
    `- Message id: ${r('message_id')}`,
    '',
    'Order of checks (first refusal wins):',
    ...checks.map((c) => `${c.step}. ${c.check} -> ${c.refusals.join(', ')}`),
    str(model.order_note),
    '',
    `Full protocol: resource ${str(model.protocol)}; discovery document: ${str(model.discovery_url)}.`,
  ].join('\n')
}

/** `Authorization: Mecha <token>`, the first scheme; the others are aliases, not a list to send. */
function tokenSchemes(schemes: unknown): string {
  const [first, ...aliases] = Array.isArray(schemes) ? schemes.map(String) : ['Mecha']
  const alias = aliases.length === 0 ? '' : ` (${aliases.map((a) => `${a} <token>`).join(', ')} is accepted as an alias)`
  return `${first ?? 'Mecha'} <token>${alias}`
}

export function surfacesText(surfaces: readonly DiscoverySurface[]): string {
  if (surfaces.length === 0) return 'No surfaces.'
  return surfaces.map((s) => `[${s.access}${s.scope !== undefined ? ` ${s.scope}` : ''}] ${s.methods.join(',')} ${s.url} - ${s.description}`).join('\n')
}

export interface ExplainedError {
  reason: string
  code: string
  status: number
  meaning: string
  fix: string
  produced_by: { runtime_checks: { step: number; check: string }[]; other?: string }
}

export function errorText(e: ExplainedError): string {
  const sources = [
    ...e.produced_by.runtime_checks.map((c) => `runtime check ${c.step}: ${c.check}`),
    ...(e.produced_by.other !== undefined ? [e.produced_by.other] : []),
  ]
  return [
    `${e.reason} (${e.code}, HTTP ${e.status})`,
    `Meaning: ${e.meaning}`,
    `Fix: ${e.fix}`,
    'Produced by:',
    ...sources.map((s) => `- ${s}`),
  ].join('\n')
}

export function exampleText(example: SignedRequestExample, thisServerAuthority: string): string {
  return [
    example.warning,
    '',
    `Signature base (${example.alg}):`,
    example.signature_base,
    '',
    'Request:',
    example.http,
    '',
    `Verify: ${example.how_to_verify}`,
    `This example signs for @authority ${example.request.authority}. Requests to this server sign for ${thisServerAuthority}.`,
  ].join('\n')
}
