/** Plain-text rendering for people; --json output never goes through here. */

// Names and descriptions are operator-supplied free text: escape control characters so a stored
// value cannot move the cursor, recolour or rewrite what the terminal shows.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/g

export function clean(text: string): string {
  return text.replace(CONTROL_RE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Columns padded to their widest cell, two spaces apart, no trailing spaces. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [header, ...rows].map((row) => row.map(clean))
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)))
  return cells
    .map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd())
    .join('\n') + '\n'
}

/** `label  value` lines with the values aligned. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length))
  return fields.map(([label, value]) => `${label.padEnd(width)}  ${clean(value)}`.trimEnd()).join('\n') + '\n'
}

/** RFC 3339 to the second (milliseconds are noise in a table), or `fallback` for null. */
export function formatTime(iso: string | null, fallback = '-'): string {
  return iso === null ? fallback : iso.replace(/\.\d+Z$/, 'Z')
}

export function formatList(items: readonly string[]): string {
  return items.length === 0 ? '-' : items.join(', ')
}

export function orDash(value: string | null): string {
  return value === null || value === '' ? '-' : value
}
