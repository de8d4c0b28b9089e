import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { openStores } from '../../src/open-stores.js'
import { EmbeddedSessionStore } from '../../src/sessions/embedded.js'
import type { SessionStore } from '../../src/sessions/types.js'
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../src/stores/embedded/database.js'
import { session, sessionStoreContract } from './session-store.contract.js'

sessionStoreContract('embedded (LMDB)', () => {
  const dirs: string[] = []
  /** The database each store is on; only the store that opened it closes it. */
  const databases = new WeakMap<SessionStore, { db: EmbeddedDatabase; owner: boolean }>()
  return {
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'mecharim-sessions-'))
      dirs.push(dir)
      const db = openEmbeddedDatabase(dir)
      const store = new EmbeddedSessionStore(db)
      databases.set(store, { db, owner: true })
      return store
    },
    // One process holds a data directory (data-dir-lock.ts): a second instance is a second store on
    // the same environment, and concurrent calls in one process are the race there is.
    async sibling(store) {
      const opened = databases.get(store)
      if (opened === undefined) throw new Error('unknown store')
      const other = new EmbeddedSessionStore(opened.db)
      databases.set(other, { db: opened.db, owner: false })
      return other
    },
    async close(store) {
      const opened = databases.get(store)
      if (opened?.owner === true) await opened.db.close()
    },
    async teardown() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
    },
  }
})

describe('openStores: sessions on the embedded stores', () => {
  it('builds an EmbeddedSessionStore on the data directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecharim-sessions-open-'))
    const stores = await openStores(loadConfig({ MECHA_DATA_DIR: dir, MECHA_DURABILITY: 'memory' }))
    try {
      expect(stores.sessions).toBeInstanceOf(EmbeddedSessionStore)
      const now = Date.now()
      const record = session({ now })
      expect(await stores.sessions.start(record, { maxOpen: 1, now })).toEqual({ outcome: 'started' })
      expect(await stores.sessions.get(record.id)).toEqual(record)
    } finally {
      await stores.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
