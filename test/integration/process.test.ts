import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { spawnService } from '../helpers/process.js'
import { spawn } from 'node:child_process'
import { MAIN } from '../helpers/process.js'

const cwd = mkdtempSync(join(tmpdir(), 'mecharim-proc-'))
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

describe('the service process (npm start)', () => {
  it('starts with no configuration on the embedded store, prints a development token once, and stops on SIGTERM', async () => {
    const svc = await spawnService({ PORT: '0' }, cwd)
    try {
      // the token is written right after the listening log line: give the pipe a moment
      for (let i = 0; i < 50 && !svc.stderr().includes('mop_'); i++) await new Promise((r) => setTimeout(r, 20))
      const token = /\n {2}(mop_[A-Za-z0-9_-]{43})\n/.exec(svc.stderr())?.[1]
      expect(token).toBeDefined()
      expect(svc.stdout()).not.toContain(token)
      const res = await fetch(`${svc.url}/v1/mechas`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'from-process' }),
      })
      expect(res.status).toBe(201)
      expect((await res.json()).mecha.created_by).toBe('dev')
    } finally {
      svc.child.kill('SIGTERM')
    }
    expect(await svc.exited).toBe(0)
    expect(svc.stdout()).toContain('"msg":"shutting down"')
  })

  it('refuses to start in production without configuration, naming the variables', async () => {
    const child = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0' } })
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString('utf8') })
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(code).toBe(1)
    expect(err).toContain('MECHA_MASTER_KEY is required when NODE_ENV=production')
    expect(err).toContain('no operator tokens configured')
  })
})
