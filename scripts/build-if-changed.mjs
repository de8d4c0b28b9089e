#!/usr/bin/env node
/* global process, URL */
// `npm start` runs this instead of a full compile: it builds (tsc, incremental) only when a source or
// build setting is newer than the last build, so a restart with nothing changed starts at once.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
// Written after each successful build (tsc leaves its own build info untouched when nothing changed).
const stamp = join(root, 'dist', '.build-stamp')

function newest(path) {
  const info = statSync(path)
  if (!info.isDirectory()) return info.mtimeMs
  let latest = info.mtimeMs
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)))
  return latest
}

let built = 0
try {
  built = statSync(stamp).mtimeMs
} catch {
  built = 0
}
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'].map((p) => newest(join(root, p)))
if (built > 0 && Math.max(...inputs) <= built) process.exit(0)
const result = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (result.status === 0) writeFileSync(stamp, `${new Date().toISOString()}\n`)
process.exit(result.status ?? 1)
