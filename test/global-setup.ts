import { execFileSync } from 'node:child_process'

/** Process-level tests run the compiled entry points: build them once so they never test stale output. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
}
