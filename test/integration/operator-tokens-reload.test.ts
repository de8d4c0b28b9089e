import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnService, type ServiceProcess } from '../helpers/process.js'

/**
 * Issue 13, item 6: MECHA_OPERATOR_TOKENS_FILE is re-read without a restart. A real process, a real
 * file, real requests: the watcher, the stat backstop and SIGHUP are what is under test.
 */
const cwd = mkdtempSync(join(tmpdir(), 'mecharim-tokens-reload-'))
const tokensFile = join(cwd, 'operator-tokens.json')
const ALICE = `mop_alice_${'a'.repeat(40)}`
const BOB = `mop_bob_${'b'.repeat(40)}`
const CAROL = `mop_carol_${'c'.repeat(40)}`
/** The bound: a removed token is refused within 1 second. */
const RELOAD_BOUND_MS = 1000

let svc: ServiceProcess

function writeTokens(tokens: Record<string, string>): void {
  writeFileSync(tokensFile, JSON.stringify(tokens))
}

/** How editors and config-management tools replace a file: write a sibling, rename it over. */
function replaceTokens(tokens: Record<string, string>): void {
  const temporary = `${tokensFile}.tmp`
  writeFileSync(temporary, JSON.stringify(tokens))
  renameSync(temporary, tokensFile)
}

async function statusWith(token: string): Promise<number> {
  const res = await fetch(`${svc.url}/v1/mechas`, { headers: { authorization: `Bearer ${token}` } })
  await res.arrayBuffer()
  return res.status
}

/** Poll until `check` holds; false if it never did before the deadline. */
async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 25))
  }
}

beforeAll(async () => {
  writeTokens({ [ALICE]: 'alice', [BOB]: 'bob' })
  svc = await spawnService({
    PORT: '0',
    MECHA_DATA_DIR: join(cwd, 'data'),
    MECHA_OPERATOR_TOKENS_FILE: tokensFile,
    // Polling a revoked token counts failed authentications; the throttle is not under test here.
    MECHA_AUTH_FAILURE_LIMIT: '0',
  }, cwd)
})

afterAll(async () => {
  svc.child.kill('SIGTERM')
  await svc.exited
  rmSync(cwd, { recursive: true, force: true })
})

describe('operator tokens file reloaded without a restart', () => {
  it('refuses a token removed from the file within 1 second, and keeps the others', async () => {
    expect(await statusWith(ALICE)).toBe(200)
    writeTokens({ [BOB]: 'bob' })
    expect(await within(RELOAD_BOUND_MS, async () => (await statusWith(ALICE)) === 401)).toBe(true)
    expect(await statusWith(BOB)).toBe(200)
  })

  it('accepts a token added to the file (replaced by rename) within 1 second', async () => {
    expect(await statusWith(CAROL)).toBe(401)
    replaceTokens({ [BOB]: 'bob', [CAROL]: 'carol' })
    expect(await within(RELOAD_BOUND_MS, async () => (await statusWith(CAROL)) === 200)).toBe(true)
  })

  it('audits each reload as operator.tokens_reloaded with counts only', async () => {
    const res = await fetch(`${svc.url}/v1/audit?type=operator.tokens_reloaded`, { headers: { authorization: `Bearer ${BOB}` } })
    expect(res.status).toBe(200)
    const text = await res.text()
    for (const token of [ALICE, BOB, CAROL]) expect(text).not.toContain(token)
    const { events } = JSON.parse(text) as { events: { operator: string | null; target: unknown; details: Record<string, unknown> }[] }
    // Newest first: carol added, then alice removed.
    expect(events[0]).toMatchObject({ operator: null, target: { kind: 'config', id: 'MECHA_OPERATOR_TOKENS_FILE' }, details: { tokens: 2, added: 1, removed: 0 } })
    expect(events[1]).toMatchObject({ details: { tokens: 1, added: 0, removed: 1 } })
  })

  it('keeps the previous set when the file becomes invalid, and says so in the log, /readyz and /metrics', async () => {
    writeFileSync(tokensFile, '{"not json')
    const failing = await within(2 * RELOAD_BOUND_MS, async () => {
      const ready = await (await fetch(`${svc.url}/readyz`)).json() as { reloads?: { name: string; ok: boolean }[] }
      return ready.reloads?.some((r) => r.name === 'operator_tokens' && !r.ok) === true
    })
    expect(failing).toBe(true)
    const readyz = await fetch(`${svc.url}/readyz`)
    // Readiness stays 200: the previous tokens are still in force, the instance serves correctly.
    expect(readyz.status).toBe(200)
    const body = await readyz.json() as { reloads: { name: string; ok: boolean; detail?: string; last_success_at: string | null }[] }
    const tokens = body.reloads.find((r) => r.name === 'operator_tokens')
    expect(tokens?.detail).toMatch(/last reload of MECHA_OPERATOR_TOKENS_FILE failed/)
    expect(tokens?.last_success_at).toEqual(expect.any(String))

    expect(await statusWith(BOB)).toBe(200)
    expect(await statusWith(CAROL)).toBe(200)
    expect(await statusWith(ALICE)).toBe(401)

    const metrics = await (await fetch(`${svc.url}/metrics`)).text()
    expect(metrics).toMatch(/^mecharim_config_reload_failures_total\{source="operator_tokens"\} [1-9]\d*$/m)
    expect(metrics).toMatch(/^mecharim_config_reload_failing\{source="operator_tokens"\} 1$/m)
    expect(metrics).toMatch(/^mecharim_config_reload_last_success_timestamp_seconds\{source="operator_tokens"\} \d+/m)

    const log = svc.stdout() + svc.stderr()
    expect(log).toContain(`"file":${JSON.stringify(tokensFile)}`)
    expect(log).toContain('operator tokens reload failed')
    for (const token of [ALICE, BOB, CAROL]) expect(log).not.toContain(token)
  })

  it('reloads on SIGHUP, and a valid file clears the failure', async () => {
    writeTokens({ [ALICE]: 'alice', [BOB]: 'bob' })
    svc.child.kill('SIGHUP')
    expect(await within(RELOAD_BOUND_MS, async () => (await statusWith(ALICE)) === 200)).toBe(true)
    expect(await within(RELOAD_BOUND_MS, async () => /"trigger":"SIGHUP"/.test(svc.stdout()))).toBe(true)
    expect(svc.child.exitCode).toBeNull()
    expect(await statusWith(CAROL)).toBe(401)
    const metrics = await (await fetch(`${svc.url}/metrics`)).text()
    expect(metrics).toMatch(/^mecharim_config_reload_failing\{source="operator_tokens"\} 0$/m)
  })
})
