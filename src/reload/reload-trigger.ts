/** What set a reload off: the signal, or the file watcher (or its stat backstop). */
export type ReloadTrigger = 'SIGHUP' | 'file_changed'

/** Where a reload reports: the app's logger. */
export interface ReloadLog {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  error(details: object, message: string): void
}
