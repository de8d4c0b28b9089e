import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { expect, it } from 'vitest'

/**
 * docs/security.md proves each claim with a test, often by quoting the test's title ("a refused
 * request burns its nonce"; `...` where it leaves words out). A renamed test would leave the claim
 * quoting a proof that no longer exists: every quoted phrase must still be found in a test file, or
 * be the name of a section or a bold term of the documents (a cross-reference).
 */
const ROOT = new URL('../../../', import.meta.url).pathname
const SECURITY = readFileSync(join(ROOT, 'docs/security.md'), 'utf8')

function files(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name)
    return entry.isDirectory() ? files(path) : entry.name.endsWith('.ts') ? [path] : []
  })
}

/** Test sources, with `\'` read as `'` (titles in single quotes escape their apostrophes). */
const TESTS = files(join(ROOT, 'test')).filter((path) => !relative(ROOT, path).startsWith('test/unit/docs/')).map((path) => readFileSync(path, 'utf8').replaceAll("\\'", "'")).join('\n')
const DOCUMENTS = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((name) => `docs/${name}`)].map((path) => readFileSync(join(ROOT, path), 'utf8'))
const NAMES = new Set(DOCUMENTS.flatMap((text) => [...text.matchAll(/^#+ (.+)$/gm), ...text.matchAll(/\*\*([^*]+?)\*\*/g)].map((match) => (match[1] as string).trim().replace(/[:.]$/, ''))))

/** Quoted phrases this check cannot find literally, each with why it still names its proof. */
const NOT_LITERAL: Record<string, string> = {
  'answers PUT /v1/messages with 404 route_not_found before the announced body is sent': 'one row of a templated title (test/http/unread-bodies.test.ts, `${method} ${path}`)',
  'data directory X is in use by process N': 'the error message with its placeholders (test/integration/data-dir-lock.test.ts)',
}

/** The quoted phrases of 16 characters or more, paragraph by paragraph (a quote may wrap a line). */
function quotedPhrases(text: string): string[] {
  return text.split(/\n\s*\n/).flatMap((paragraph) => [...paragraph.split(/\s+/).join(' ').matchAll(/"([^"]+)"/g)].map((match) => match[1] as string)).filter((phrase) => phrase.length >= 16)
}

function found(phrase: string): boolean {
  const parts = phrase.split('...').map((part) => part.trim().replace(/^[.,;: ]+|[.,;: ]+$/g, '')).filter((part) => part !== '')
  return parts.every((part) => TESTS.includes(part)) || NAMES.has(phrase.replace(/[:.]$/, ''))
}

it('reads quotes by paragraph, with ... between the parts a quote keeps', () => {
  expect(quotedPhrases('a ("first quoted phrase ...") and\n"a second one that\nwraps a line"\n\n"short"')).toEqual(['first quoted phrase ...', 'a second one that wraps a line'])
  expect(found('a refused request burns its nonce')).toBe(true)
  expect(found('a refused request ... nothing like this title')).toBe(false)
})

it('every test title docs/security.md quotes is still in a test', () => {
  const phrases = quotedPhrases(SECURITY)
  expect(phrases.length).toBeGreaterThan(40)
  expect(phrases.filter((phrase) => !found(phrase) && NOT_LITERAL[phrase] === undefined)).toEqual([])
})

it('every phrase listed as not literal is still quoted there', () => {
  const phrases = new Set(quotedPhrases(SECURITY))
  expect(Object.keys(NOT_LITERAL).filter((phrase) => !phrases.has(phrase))).toEqual([])
})
