import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

/**
 * docs/security.md proves each claim by naming a test, and the README and the other docs point at
 * source, tests and deploy files: a path that was renamed or never existed leaves a claim without its
 * proof. Every repository path these documents name must exist. Build outputs (dist/, dist-bench/)
 * are not in a clean clone and are not checked.
 */
const ROOT = new URL('../../../', import.meta.url).pathname
const DOCUMENTS = ['README.md', 'openapi.yaml', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]
const PATH = /(?<![\w./-])((?:src|test|bench|scripts|deploy|docs)\/[\w./-]*\w\.(?:ts|mjs|js|json|ya?ml|md|conf))\b/g

function namedPaths(text: string): string[] {
  return [...new Set([...text.matchAll(PATH)].map((match) => match[1] as string))]
}

it('finds the paths a document names, and not a path inside another one', () => {
  expect(namedPaths('see `test/http/a.test.ts` and deploy/nginx.conf, not dist-bench/bench/ab.js or dist/src/x.js.')).toEqual(['test/http/a.test.ts', 'deploy/nginx.conf'])
})

it.each(DOCUMENTS)('every repository path %s names exists', (document) => {
  const named = namedPaths(readFileSync(join(ROOT, document), 'utf8'))
  expect(named.length).toBeGreaterThan(0)
  expect(named.filter((path) => !existsSync(join(ROOT, path)))).toEqual([])
})
