import { readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { expect, it } from 'vitest'

/**
 * The SDK runs in browsers and other non-Node runtimes (README, "Runtime SDK"): nothing it loads at
 * import time may be a `node:` module, or a browser's module loader fails before the SDK is defined
 * (the real-browser test then only sees a timeout). This walks the static, non-type imports of
 * src/client/index.ts through every module they reach, so a shared module the SDK imports (a schema,
 * a constant's home) that starts importing node:crypto is caught without a browser.
 */
const ROOT = new URL('../../../', import.meta.url).pathname
const ENTRY = join(ROOT, 'src/client/index.ts')

/** Static value imports and re-exports; `import type` / `export type` are erased by the compiler. */
const STATIC = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm

function staticImports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(STATIC)].map((match) => match[1] as string)
}

/** Every module reached from `entry`, with the import chain that first reached it. */
function reach(entry: string): Map<string, string[]> {
  const chains = new Map<string, string[]>([[entry, [entry]]])
  const queue = [entry]
  while (queue.length > 0) {
    const file = queue.shift() as string
    for (const specifier of staticImports(file)) {
      const target = specifier.startsWith('.') ? join(dirname(file), specifier.replace(/\.js$/, '.ts')) : specifier
      if (chains.has(target)) continue
      chains.set(target, [...(chains.get(file) as string[]), target])
      if (specifier.startsWith('.')) queue.push(target)
    }
  }
  return chains
}

it('the walk sees value imports and re-exports, not type imports', () => {
  const text = "import { a } from './a.js'\nimport type { B } from './b.js'\nexport * from './c.js'\nexport type { D } from './d.js'\nimport './e.js'\nimport {\n  f,\n} from 'node:f'\n"
  expect([...text.matchAll(STATIC)].map((match) => match[1])).toEqual(['./a.js', './c.js', './e.js', 'node:f'])
})

it('the SDK reaches no node: module through its static imports', () => {
  const chains = reach(ENTRY)
  // The walk did reach the shared modules the SDK is built on.
  expect([...chains.keys()].some((file) => file.endsWith('src/crypto/signature-base.ts'))).toBe(true)
  const offending = [...chains.entries()].filter(([target]) => target.startsWith('node:')).map(([, chain]) => chain.map((file) => (file.startsWith('/') ? relative(ROOT, file) : file)).join(' -> '))
  expect(offending).toEqual([])
})
