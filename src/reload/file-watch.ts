import { statSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'

export interface FileWatchOptions {
  /** Events within this window are one change: an editor's write is several events, a rename two. */
  debounceMs?: number
  /** The stat backstop's period: watchers miss events (network and container file systems, inotify limits). */
  pollMs?: number
  /** A watcher that could not be set up (the directory vanished...): the stat backstop still runs. */
  onWatchError?: (path: string, err: unknown) => void
}

export interface FileWatch {
  close(): void
}

const DEFAULT_DEBOUNCE_MS = 100
/** With the debounce, a change the watcher missed is seen within 600 ms: inside the 1 s the tokens file promises. */
const DEFAULT_POLL_MS = 500

/**
 * Call `onChange` (debounced) when any of `paths` changes. Each file's directory is watched, not the
 * file: an atomic replace (write a sibling, rename it over) gives the path a new inode, which a watch
 * on the old one never reports. A periodic stat of each path (inode, size, mtime, ctime) is the
 * backstop. Timers are unref'd: watching never keeps the process alive.
 */
export function watchFiles(paths: readonly string[], onChange: () => void, options: FileWatchOptions = {}): FileWatch {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS
  const absolute = paths.map((p) => resolve(p))
  let debounce: NodeJS.Timeout | undefined
  let closed = false
  let last = absolute.map(fingerprint)
  const changed = (): void => {
    if (closed) return
    clearTimeout(debounce)
    debounce = setTimeout(fire, debounceMs)
    debounce.unref()
  }
  // The backstop compares against what the last reload saw, so a change the watcher already
  // reported is not reloaded a second time.
  const fire = (): void => {
    last = absolute.map(fingerprint)
    onChange()
  }

  const watchers: FSWatcher[] = []
  const byDirectory = new Map<string, Set<string>>()
  for (const path of absolute) {
    const names = byDirectory.get(dirname(path)) ?? new Set<string>()
    names.add(basename(path))
    byDirectory.set(dirname(path), names)
  }
  for (const [directory, names] of byDirectory) {
    try {
      const watcher = watch(directory, { persistent: false }, (_event, name) => {
        // Some platforms omit the name: then any event in the directory counts.
        if (name === null || names.has(name.toString())) changed()
      })
      watcher.on('error', (err) => options.onWatchError?.(directory, err))
      watchers.push(watcher)
    } catch (err) {
      options.onWatchError?.(directory, err)
    }
  }

  const poll = setInterval(() => {
    if (absolute.some((path, i) => fingerprint(path) !== last[i])) changed()
  }, pollMs)
  poll.unref()

  return {
    close(): void {
      closed = true
      clearTimeout(debounce)
      clearInterval(poll)
      for (const watcher of watchers) watcher.close()
    },
  }
}

function fingerprint(path: string): string {
  try {
    const s = statSync(path, { bigint: true })
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? 'error'}`
  }
}
