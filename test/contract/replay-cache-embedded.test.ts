import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedReplayCache } from '../../src/replay/embedded.js'
import type { ReplayCache } from '../../src/replay/types.js'
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../src/stores/embedded/database.js'
import { CONTRACT_SKEW_SECONDS, replayCacheContract } from './replay-cache.contract.js'

replayCacheContract('embedded (LMDB)', () => {
  const dirs: string[] = []
  const databases = new WeakMap<ReplayCache, EmbeddedDatabase>()
  return {
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'mecharim-replay-'))
      dirs.push(dir)
      const db = openEmbeddedDatabase(dir)
      const cache = new EmbeddedReplayCache(db, { maxFutureSkewSeconds: CONTRACT_SKEW_SECONDS })
      databases.set(cache, db)
      return cache
    },
    async forgetEpoch(cache) {
      const db = databases.get(cache)
      if (db === undefined) throw new Error('unknown cache')
      await db.root.openDB<number, string>({ name: 'replay-meta' }).remove('epoch')
    },
    // No loseWrites: LMDB has no run_id, and one process holds the directory (data-dir-lock.ts).
    // LMDB compares expiry with the claim's `now`: no need to wait.
    async elapse(seconds) {
      return Date.now() + seconds * 1000
    },
    async close(cache) {
      await cache.close()
      await databases.get(cache)?.close()
    },
    async teardown() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
    },
  }
})
