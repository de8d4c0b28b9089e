import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { open, type RootDatabase } from 'lmdb'

/**
 * One LMDB environment per data directory. The control store, the replay cache, the Mechagram
 * transport and the session store each open named databases inside it, so a single file holds everything the embedded
 * mode keeps and a write that spans them can be one transaction.
 */
export interface EmbeddedDatabase {
  readonly root: RootDatabase
  /** True when every commit is fsynced before its promise resolves (as the environment reports it). */
  readonly synchronousCommit: boolean
  close(): Promise<void>
}

export interface EmbeddedDatabaseOptions {
  /**
   * Fsync every commit before its promise resolves (MECHA_DURABILITY=fsync). Otherwise lmdb's default
   * overlapping sync (Linux, macOS): a commit resolves once visible, and is flushed just after, in
   * parallel with the next transactions; a host crash can lose those few milliseconds.
   */
  synchronousCommit?: boolean
}

/**
 * Named databases the environment may hold (LMDB reserves a slot per name; the limit is per open, not
 * stored in the file): 18 are used (control store, replay cache, transport, sessions), with room.
 */
const MAX_DBS = 32

export function openEmbeddedDatabase(dataDir: string, options: EmbeddedDatabaseOptions = {}): EmbeddedDatabase {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const root = open({
    path: join(dataDir, 'mecharim.mdb'), maxDbs: MAX_DBS, compression: false,
    ...(options.synchronousCommit === true ? { overlappingSync: false } : {}),
  })
  let closed = false
  return {
    root,
    // lmdb-js keeps the flag the environment was actually opened with (an environment already open
    // in this process keeps its own), so this is what commits do, not what was asked.
    synchronousCommit: (root as RootDatabase & { overlappingSync?: boolean }).overlappingSync === false,
    async close(): Promise<void> {
      if (closed) return
      closed = true
      await root.close()
    },
  }
}
