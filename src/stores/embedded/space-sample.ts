import { statfs } from 'node:fs/promises'
import type { Database } from 'lmdb'
import type { StorageSample } from '../high-water.js'
import type { EmbeddedDatabase } from './database.js'

/** The pages one LMDB tree holds (mdb_stat). */
export interface TreeStat {
  treeBranchPageCount: number
  treeLeafPageCount: number
  overflowPages: number
}

/** What the sample needs of the environment (lmdb-js `getStats()`, from mdb_env_info and mdb_stat). */
export interface EnvironmentStat {
  pageSize: number
  /** The highest page the file holds: pages up to it are in the file, in use or free for reuse. */
  lastPageNumber: number
}

/** What the sample needs of the file system (statfs). */
export interface DiskStat {
  /** Block size, bytes. */
  bsize: number
  /** Blocks available to this (unprivileged) process. */
  bavail: number
}

/** The two meta pages at the start of every LMDB file. */
const META_PAGES = 2

/**
 * The embedded store's space. In use: the pages of every tree (the named databases, the main one that
 * names them, the free list itself). Capacity: the file's pages (those not in use are free and LMDB
 * reuses them) and the disk space still available. So a drained inbox makes room again although the
 * file does not shrink, and a disk filled by anything makes the capacity shrink.
 *
 * The map size is not a limit here: lmdb-js grows the map by itself (it doubles it when a commit needs
 * a page beyond it), so the ceiling of an embedded store is its disk.
 */
export function lmdbSpace(env: EnvironmentStat, trees: readonly TreeStat[], disk: DiskStat): StorageSample {
  const pagesInUse = META_PAGES + trees.reduce((sum, t) => sum + t.treeBranchPageCount + t.treeLeafPageCount + t.overflowPages, 0)
  return {
    used: pagesInUse * env.pageSize,
    capacity: (env.lastPageNumber + 1) * env.pageSize + disk.bavail * disk.bsize,
  }
}

/**
 * Samples `db` and the file system of `dataDir` (one statfs). The main database names the others; a
 * handle on each is opened the first time a sample finds it (opening one takes a write transaction:
 * once per database and process, not once per sample).
 */
export function embeddedSpaceSample(db: EmbeddedDatabase, dataDir: string): () => Promise<StorageSample> {
  const named = new Map<string, Database>()
  return async () => {
    const disk = await statfs(dataDir)
    for (const name of db.root.getKeys()) {
      if (typeof name !== 'string' || named.has(name)) continue
      const tree = db.root.openDB({ name })
      if (tree !== undefined) named.set(name, tree)
    }
    const env = db.root.getStats() as EnvironmentStat & { root: TreeStat; free: TreeStat }
    return lmdbSpace(env, [env.root, env.free, ...[...named.values()].map((tree) => tree.getStats() as TreeStat)], disk)
  }
}
