import { execFileSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/** Issue 11: `npm start` builds only when the sources changed since the last build. */
const SCRIPT = fileURLToPath(new URL('../../../scripts/build-if-changed.mjs', import.meta.url))
const STAMP = fileURLToPath(new URL('../../../dist/.build-stamp', import.meta.url))

describe('scripts/build-if-changed.mjs (npm start\'s prestart)', () => {
  it('builds when needed, then does nothing while no source changed', () => {
    execFileSync(process.execPath, [SCRIPT], { stdio: 'ignore' })
    const first = statSync(STAMP).mtimeMs
    execFileSync(process.execPath, [SCRIPT], { stdio: 'ignore' })
    expect(statSync(STAMP).mtimeMs).toBe(first)
  }, 120_000)

  it('is what npm start runs before starting', async () => {
    const pkg = (await import('../../../package.json', { with: { type: 'json' } })).default as { scripts: Record<string, string> }
    expect(pkg.scripts.prestart).toBe('node scripts/build-if-changed.mjs')
  })
})
