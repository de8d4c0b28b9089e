import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const DEV_MASTER_KEY_FILE = 'master.key'

/**
 * Development only: the master key lives in MECHA_DATA_DIR/master.key (mode 0600), created on first
 * start, so that `npm start` works with no configuration and sealed secrets survive restarts.
 * Production refuses to start without MECHA_MASTER_KEY (config/load.ts): a store dump plus this file
 * would open every signing secret, which is why production keeps the key outside the data directory.
 */
export function loadOrCreateDevMasterKey(dataDir: string): { key: Buffer; created: boolean } {
  const path = join(dataDir, DEV_MASTER_KEY_FILE)
  try {
    const hex = readFileSync(path, 'utf8').trim()
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${path} is not 64 hex characters: delete it only if no HMAC key depends on it`)
    return { key: Buffer.from(hex, 'hex'), created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const key = randomBytes(32)
  writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
  return { key, created: true }
}
