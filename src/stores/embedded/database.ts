import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { open, type RootDatabase } from 'lmdb'

/**
 * One LMDB environment per data directory. The control store, the replay cache and the Mechagram
 * transport each open named databases inside it, so a single file holds everything the embedded
 * mode keeps and a write that spans them can be one transaction.
 */
export interface EmbeddedDatabase {
  readonly root: RootDatabase
  close(): Promise<void>
}

export function openEmbeddedDatabase(dataDir: string): EmbeddedDatabase {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const root = open({ path: join(dataDir, 'mecharim.mdb'), maxDbs: 16, compression: false })
  let closed = false
  return {
    root,
    async close(): Promise<void> {
      if (closed) return
      closed = true
      await root.close()
    },
  }
}
