import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const DEV_OPERATOR_TOKEN_FILE = 'dev-operator-token'

const TOKEN_RE = /^mop_[A-Za-z0-9_-]{43}$/

/**
 * Development only (config/load.ts never sets generateOperatorToken in production): the generated
 * operator token lives in MECHA_DATA_DIR/dev-operator-token (mode 0600), like the development master
 * key, so that it stays the same across restarts and a script can read it instead of a person
 * copying it from the terminal. Anyone who can read the data directory is an operator of this
 * development instance, which is already true of its master key.
 */
export function loadOrCreateDevOperatorToken(dataDir: string): { token: string; path: string; created: boolean } {
  const path = join(dataDir, DEV_OPERATOR_TOKEN_FILE)
  try {
    const token = readFileSync(path, 'utf8').trim()
    if (!TOKEN_RE.test(token)) throw new Error(`${path} does not hold a development operator token (mop_ and 43 base64url characters): delete it to generate a new one`)
    // A file restored or copied with looser permissions is tightened, not trusted as it is.
    chmodSync(path, 0o600)
    return { token, path, created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const token = `mop_${randomBytes(32).toString('base64url')}`
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' })
  return { token, path, created: true }
}
