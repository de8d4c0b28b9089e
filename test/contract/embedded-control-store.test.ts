import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openEmbeddedDatabase } from '../../src/stores/embedded/database.js'
import { EmbeddedControlStore } from '../../src/stores/embedded/control-store.js'
import type { ControlStore } from '../../src/stores/types.js'
import { controlStoreContract } from './control-store.contract.js'

controlStoreContract('embedded (LMDB)', () => {
  const dirs: string[] = []
  const dirOf = new WeakMap<ControlStore, string>()
  const openAt = (dir: string): ControlStore => {
    const store = new EmbeddedControlStore(openEmbeddedDatabase(dir))
    dirOf.set(store, dir)
    return store
  }
  return {
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'mecharim-store-'))
      dirs.push(dir)
      return openAt(dir)
    },
    async reopen(store) {
      const dir = dirOf.get(store)
      if (dir === undefined) throw new Error('unknown store')
      await store.close()
      return openAt(dir)
    },
    async teardown() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
    },
  }
})
