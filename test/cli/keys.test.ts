import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, startTestControlPlane, type TestControlPlane } from './helpers.js'

interface IssuedBody {
  key: { id: string; status: string; credentials: { generation: number; expires_at: string | null; signing_secret: boolean }[] }
  token: string
  signing_secret?: string
}

function ed25519PublicKey(): string {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  if (jwk.x === undefined) throw new Error('no public key')
  return jwk.x
}

let cp: TestControlPlane
beforeAll(async () => {
  cp = await startTestControlPlane()
  expect((await run(['mechas', 'add', 'alpha'], cp.env)).code).toBe(0)
})
afterAll(async () => { await cp.close() })

/** The once-only block of human output: `token ...` and `signing secret ...` lines. */
function secretsOf(stdout: string): { keyId?: string; token?: string; signingSecret?: string } {
  const block = stdout.slice(stdout.indexOf('Shown once — store it now'))
  return {
    keyId: /^ {2}key id\s+(\S+)$/m.exec(block)?.[1],
    token: /^ {2}token\s+(\S+)$/m.exec(block)?.[1],
    signingSecret: /^ {2}signing secret\s+(\S+)$/m.exec(block)?.[1],
  }
}

describe('keys issue', () => {
  it('prints the key, then its token and signing secret marked as shown once', async () => {
    const result = await run(['keys', 'issue', 'alpha', '--label', 'ci', '--sign', 'hmac-sha256'], cp.env)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const secrets = secretsOf(result.stdout)
    expect(secrets.keyId).toMatch(/^mk[a-z2-7]{24}$/)
    expect(secrets.token).toMatch(new RegExp(`^mecha_${secrets.keyId}_[a-z2-7]{52}_[a-z2-7]{7}$`))
    expect(secrets.signingSecret).toMatch(/^mss_[A-Za-z0-9_-]{43}$/)
    expect(result.stdout).toContain(`Issued key ${secrets.keyId} for mecha alpha.`)
    expect(result.stdout).toMatch(/^signature\s+hmac-sha256 \(optional\)$/m)
  })

  it('maps every policy flag onto the request', async () => {
    const publicKeys = [ed25519PublicKey(), ed25519PublicKey()]
    const result = await run([
      'keys', 'issue', 'alpha', '--json', '--ttl', '3600', '--recipients', 'beta,gamma.*', '--kinds', 'task.*',
      '--max-message-bytes', '1024', '--sign', 'ed25519', '--require-signature',
      `--public-key=${publicKeys[0]}`, `--public-key=${publicKeys[1]}`, '--rate-limit', '100/60',
    ], cp.env)
    expect(result).toMatchObject({ code: 0, stderr: expect.stringContaining('shown once') })
    const issued = JSON.parse(result.stdout) as IssuedBody
    expect(issued.signing_secret).toBeUndefined()
    const shown = JSON.parse((await run(['keys', 'show', issued.key.id, '--json'], cp.env)).stdout) as { key: Record<string, unknown> }
    expect(shown.key).toMatchObject({
      permissions: { recipients: ['beta', 'gamma.*'], kinds: ['task.*'], max_message_bytes: 1024 },
      signature: { required: true, algorithms: ['ed25519'] },
      public_keys: publicKeys,
      rate_limit: { requests: 100, per_seconds: 60 },
    })
    const expiresIn = Date.parse(shown.key.expires_at as string) - Date.now()
    expect(expiresIn).toBeGreaterThan(3500_000)
    expect(expiresIn).toBeLessThanOrEqual(3600_000)
  })

  it('--json keeps stdout pure JSON and notes the secrets on stderr', async () => {
    const result = await run(['keys', 'issue', 'alpha', '--json', '--sign', 'hmac-sha256', '--expires-at', '2999-01-01T00:00:00Z'], cp.env)
    expect(result.code).toBe(0)
    const issued = JSON.parse(result.stdout) as IssuedBody
    expect(issued.token).toMatch(/^mecha_mk/)
    expect(issued.signing_secret).toMatch(/^mss_/)
    expect(result.stderr).toContain('shown once — store them now')
  })

  it('refuses --ttl together with --expires-at, and an unknown algorithm, as usage errors', async () => {
    const both = await run(['keys', 'issue', 'alpha', '--ttl', '60', '--expires-at', '2999-01-01T00:00:00Z'], cp.env)
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('error: give either --ttl or --expires-at, not both')
    const algorithm = await run(['keys', 'issue', 'alpha', '--sign', 'rsa'], cp.env)
    expect(algorithm.code).toBe(2)
    expect(algorithm.stderr).toContain('--sign expects hmac-sha256 and/or ed25519, got "rsa"')
    const rate = await run(['keys', 'issue', 'alpha', '--rate-limit', '100'], cp.env)
    expect(rate.code).toBe(2)
    expect(rate.stderr).toContain('--rate-limit expects REQUESTS/SECONDS')
  })

  it('a public key starting with "-" passed as a separate argument gets the --flag=VALUE hint', async () => {
    const result = await run(['keys', 'issue', 'alpha', '--sign', 'ed25519', '--public-key', `-${'A'.repeat(42)}`], cp.env)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('error: the value of --public-key starts with "-": write it as --public-key=VALUE')
  })

  it('reports the server refusing a policy', async () => {
    const result = await run(['keys', 'issue', 'alpha', '--sign', 'ed25519'], cp.env)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: invalid_signature_policy: ed25519 needs at least one entry in public_keys \(request req_\w+\)\n$/)
  })
})

describe('keys list, show, rotate, revoke', () => {
  let keyId: string
  beforeAll(async () => {
    const issued = await run(['keys', 'issue', 'alpha', '--label', 'lifecycle', '--sign', 'hmac-sha256', '--json'], cp.env)
    keyId = (JSON.parse(issued.stdout) as IssuedBody).key.id
  })

  it('list prints a table row per key', async () => {
    const result = await run(['keys', 'list', 'alpha'], cp.env)
    expect(result.code).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+LABEL\s+SIGNATURE\s+EXPIRES\s+CREATED$/)
    expect(lines.find((line) => line.startsWith(keyId))).toMatch(/^mk\w+\s+active\s+lifecycle\s+hmac-sha256 \(optional\)\s+never\s+\S+Z$/)
    const json = JSON.parse((await run(['keys', 'list', 'alpha', '--json'], cp.env)).stdout) as { keys: { id: string }[] }
    expect(json.keys.map((k) => k.id)).toContain(keyId)
  })

  it('show prints the metadata and never a secret', async () => {
    const result = await run(['keys', 'show', keyId], cp.env)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^id\\s+${keyId}$`, 'm'))
    expect(result.stdout).toMatch(/^generation 1\s+created \S+Z, with signing secret$/m)
    expect(result.stdout).not.toMatch(/mecha_mk|mss_/)
  })

  it('rotate with --grace prints new secrets and when the previous ones stop', async () => {
    const result = await run(['keys', 'rotate', keyId, '--grace', '600'], cp.env)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^Rotated key ${keyId} to generation 2\\. The previous token and signing secret keep working until \\S+Z\\.$`, 'm'))
    const secrets = secretsOf(result.stdout)
    expect(secrets.token).toMatch(new RegExp(`^mecha_${keyId}_`))
    expect(secrets.signingSecret).toMatch(/^mss_/)
    const shown = JSON.parse((await run(['keys', 'show', keyId, '--json'], cp.env)).stdout) as IssuedBody
    expect(shown.key.credentials.map((c) => c.generation)).toEqual([1, 2])
  })

  it('rotate without --grace ends the previous credentials now (--json)', async () => {
    const result = await run(['keys', 'rotate', keyId, '--json'], cp.env)
    expect(result.code).toBe(0)
    const rotated = JSON.parse(result.stdout) as IssuedBody
    expect(rotated.key.credentials).toEqual([expect.objectContaining({ generation: 3, expires_at: null, signing_secret: true })])
    expect(rotated.token).toMatch(/^mecha_mk/)
  })

  it('revoke says the key stops working; rotating it afterwards is refused', async () => {
    const result = await run(['keys', 'revoke', keyId], cp.env)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^Revoked key ${keyId} at \\S+Z: its tokens and signing secrets no longer work\\.\\n$`))
    const shown = JSON.parse((await run(['keys', 'show', keyId, '--json'], cp.env)).stdout) as IssuedBody
    expect(shown.key.status).toBe('revoked')
    const rotate = await run(['keys', 'rotate', keyId], cp.env)
    expect(rotate.code).toBe(1)
    expect(rotate.stderr).toMatch(/^error: key_revoked: key \w+ is revoked \(request req_\w+\)\n$/)
  })

  it('an unknown key exits 1 with key_not_found', async () => {
    const result = await run(['keys', 'show', `mk${'a'.repeat(24)}`], cp.env)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('error: key_not_found:')
  })
})

describe('keys update', () => {
  it('changes the policy and label in place and prints the key', async () => {
    const issued = JSON.parse((await run(['keys', 'issue', 'alpha', '--label', 'before', '--sign', 'hmac-sha256', '--json'], cp.env)).stdout) as IssuedBody
    const result = await run(['keys', 'update', issued.key.id, '--label', 'after', '--recipients', 'beta', '--kinds', 'task.*',
      '--sign', 'hmac-sha256', '--require-signature', '--rate-limit', '10/60', '--ttl', '3600'], cp.env)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toContain(`Updated key ${issued.key.id}`)
    expect(result.stdout).toMatch(/^label\s+after$/m)
    expect(result.stdout).toMatch(/^recipients\s+beta$/m)
    expect(result.stdout).toMatch(/^signature\s+hmac-sha256 \(required\)$/m)
    expect(result.stdout).toMatch(/^rate limit\s+10 requests per 60 s$/m)
    expect(result.stdout).not.toMatch(/^expires\s+never$/m)
    // Never a secret: an update returns metadata only.
    expect(result.stdout).not.toContain('Shown once')

    const cleared = await run(['keys', 'update', issued.key.id, '--label', '', '--optional-signature', '--no-rate-limit', '--no-expiry', '--json'], cp.env)
    expect(cleared.code).toBe(0)
    expect((JSON.parse(cleared.stdout) as { key: unknown }).key).toMatchObject({
      label: null, rate_limit: null, expires_at: null, signature: { required: false, algorithms: ['hmac-sha256'] },
    })
  })

  it.each([
    [[], 'nothing to change'],
    [['--ttl', '60', '--no-expiry'], 'give one of --ttl, --expires-at and --no-expiry'],
    [['--require-signature', '--optional-signature'], 'give either --require-signature or --optional-signature, not both'],
    [['--rate-limit', '1/1', '--no-rate-limit'], 'give either --rate-limit or --no-rate-limit, not both'],
  ])('%j is a usage error', async (flags, message) => {
    const result = await run(['keys', 'update', 'mkaaaaaaaaaaaaaaaaaaaaaaaa', ...flags], cp.env)
    expect(result.code).toBe(2)
    expect(result.stderr.startsWith(`error: ${message}`)).toBe(true)
    expect(result.stderr).toContain('Usage: mecharim keys update')
  })

  it('a refusal by the server is reported with its reason, exit 1', async () => {
    const result = await run(['keys', 'update', 'mkaaaaaaaaaaaaaaaaaaaaaaaa', '--label', 'x'], cp.env)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: key_not_found: /)
  })
})
