import type { ModeRecord } from '../../model.js'

/**
 * What the list_modes tool reads: the mode registry's listing (src/control-plane/modes.ts), nothing
 * that writes. The registry is live, unlike the rest of the MCP content, which is computed at start-up.
 */
export interface ModeReader {
  list(): Promise<ModeRecord[]>
}

/** Said with every answer: reading a mode is descriptive. */
export const MODES_NOTE = 'Modes are descriptive: a mode grants nothing. Starting a session in one needs a Mecha key whose '
  + 'permissions.sessions allow it (can_start, modes); sending one of its kinds needs a key allowed to send that kind.'

export interface ModesModel extends Record<string, unknown> {
  count: number
  modes: ModeRecord[]
  note: string
}

export function modesModel(modes: readonly ModeRecord[]): ModesModel {
  return { count: modes.length, modes: [...modes], note: MODES_NOTE }
}

export function modesText(model: ModesModel): string {
  if (model.modes.length === 0) return `No session modes are registered. Operators add them with PUT /v1/modes/{name} (or \`mecharim modes put\`).\n${model.note}`
  const lines = model.modes.map((m) => `- ${m.name} (version ${m.version}): ${m.kinds.join(', ')}${m.description === null ? '' : ` — ${m.description}`}`)
  return [`Session modes (${model.count}):`, ...lines, '', model.note].join('\n')
}
