/** A fenced ```sh block of a Markdown document and the line its first command is on. */
export interface ShellBlock {
  line: number
  code: string
}

const SKIP_RE = /^<!-- readme-test: skip\b.*-->$/

/**
 * The ```sh blocks in document order. A block is left out only when the line right before its fence
 * is `<!-- readme-test: skip (why) -->`, so leaving a block out is visible in the README itself.
 */
export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n')
  const blocks: ShellBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue
    const end = lines.indexOf('```', i + 1)
    if (end === -1) throw new Error(`README line ${i + 1}: a \`\`\`sh block without its closing fence`)
    if (!SKIP_RE.test(lines[i - 1] ?? '')) blocks.push({ line: i + 2, code: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return blocks
}

/**
 * One bash script: stop at the first failing command (pipelines included, unset variables too),
 * and say on stderr which README line each block starts at.
 */
export function scriptOf(blocks: readonly ShellBlock[]): string {
  return [
    'set -euo pipefail',
    ...blocks.map((block) => `echo '::: README.md line ${block.line}' >&2\n${block.code}`),
    "echo '::: README script completed' >&2",
  ].join('\n')
}
