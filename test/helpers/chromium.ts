import { existsSync } from 'node:fs'
import { describe, it } from 'vitest'

/** Debian's Chromium: no browser is ever downloaded for tests. */
export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
export const BROWSER_TIMEOUT_MS = 60_000

/** `describe`, or a loud skip without Chromium; with MECHA_REQUIRE_BROWSER=1 (CI) a failing test instead. */
export function describeWithChromium(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(name, fn)
    return
  }
  if (process.env.MECHA_REQUIRE_BROWSER === '1') {
    describe(name, () => {
      it(`needs ${CHROMIUM}`, () => {
        throw new Error(`"${name}" needs ${CHROMIUM} (apt-get install chromium), and MECHA_REQUIRE_BROWSER=1 forbids skipping it`)
      })
    })
    return
  }
  console.warn(`\n${'!'.repeat(78)}\n!!! SKIPPED: "${name}" needs ${CHROMIUM} (set MECHA_REQUIRE_BROWSER=1 to fail instead)\n${'!'.repeat(78)}\n`)
  describe.skip(name, fn)
}
