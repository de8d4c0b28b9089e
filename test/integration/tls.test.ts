import { execFileSync, spawn } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MechaClient } from '../../src/client/index.js'
import { freePort } from '../../src/dev/local-ports.js'
import { MAIN, spawnService, type ServiceProcess } from '../helpers/process.js'

/**
 * Issue 13, item 5: HTTPS and WSS from MECHA_TLS_CERT_PATH / MECHA_TLS_KEY_PATH, with a certificate
 * swapped on disk served after SIGHUP (and after a change alone) while open connections stay up.
 * The certificates are made here with Debian's openssl; the client trusts both through `ca`.
 */
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
const cwd = mkdtempSync(join(tmpdir(), 'mecharim-tls-'))
const certPath = join(cwd, 'tls.crt')
const keyPath = join(cwd, 'tls.key')
const caPath = join(cwd, 'ca.pem')
const OPERATOR = `mop_tls_${'t'.repeat(40)}`
const BOUND_MS = 2000

function makeCertificate(name: string): { cert: string; key: string; fingerprint: string } {
  const cert = join(cwd, `${name}.crt`)
  const key = join(cwd, `${name}.key`)
  execFileSync('/usr/bin/openssl', [
    'req', '-x509', '-newkey', 'ed25519', '-nodes', '-days', '2', '-keyout', key, '-out', cert,
    '-subj', `/CN=127.0.0.1/O=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' })
  return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 }
}

function install(pair: { cert: string; key: string }): void {
  // Key first: until the certificate follows, the pair on disk does not match, and the reload keeps the old one.
  copyFileSync(pair.key, keyPath)
  copyFileSync(pair.cert, certPath)
}

let first: ReturnType<typeof makeCertificate>
let second: ReturnType<typeof makeCertificate>
let svc: ServiceProcess
let origin: string

/** The certificate a new TLS connection is served. */
function servedFingerprint(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(origin).port), ca: readFileSync(caPath), servername: undefined }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256
      socket.end()
      resolve(fingerprint)
    })
    socket.on('error', reject)
  })
}

function httpsGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { ca: readFileSync(caPath), headers }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString('utf8') })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

function httpsPost(path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, {
      method: 'POST', ca: readFileSync(caPath), headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => { text += d.toString('utf8') })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

/** An HTTP/1.1 request on an open TLS socket (keep-alive): the socket's status line. */
function requestOn(socket: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (d: Buffer) => resolve(d.toString('utf8').split('\r\n')[0] as string))
    socket.once('error', reject)
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`)
  })
}

async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 50))
  }
}

beforeAll(async () => {
  first = makeCertificate('first')
  second = makeCertificate('second')
  writeFileSync(caPath, readFileSync(first.cert, 'utf8') + readFileSync(second.cert, 'utf8'))
  install(first)
  const port = await freePort()
  origin = `https://127.0.0.1:${port}`
  svc = await spawnService({
    PORT: String(port),
    MECHA_DATA_DIR: join(cwd, 'data'),
    MECHA_TLS_CERT_PATH: certPath,
    MECHA_TLS_KEY_PATH: keyPath,
    MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [OPERATOR]: 'ops' }),
  }, cwd)
})

afterAll(async () => {
  svc.child.kill('SIGTERM')
  await svc.exited
  rmSync(cwd, { recursive: true, force: true })
})

describe('TLS from MECHA_TLS_CERT_PATH and MECHA_TLS_KEY_PATH', () => {
  it('serves HTTPS with the certificate, and an https public URL by default', async () => {
    expect(svc.url).toBe(origin)
    expect(await servedFingerprint()).toBe(first.fingerprint)
    const wellKnown = await httpsGet('/.well-known/mecharim')
    expect(wellKnown.status).toBe(200)
    expect(wellKnown.body).toContain(`"${origin}`)
    // Plain HTTP on the TLS port is not served.
    await expect(fetch(`http://127.0.0.1:${new URL(origin).port}/healthz`)).rejects.toThrow()
  })

  it('the SDK (ca option) makes HTTPS calls and opens a WSS connection; the CLI trusts MECHA_CA_FILE', async () => {
    expect((await httpsPost('/v1/mechas', { id: 'tls-runtime' })).status).toBe(201)
    const issued = await httpsPost('/v1/mechas/tls-runtime/keys', {})
    expect(issued.status).toBe(201)
    const { token } = JSON.parse(issued.body) as { token: string }
    const client = new MechaClient({ url: origin, token, ca: readFileSync(caPath, 'utf8') })
    expect(await client.whoami()).toMatchObject({ mecha: 'tls-runtime' })
    const connection = client.connect()
    expect(await connection.ready).toMatchObject({ mecha: 'tls-runtime' })
    connection.close()

    // Without the CA the SDK refuses the private certificate.
    await expect(new MechaClient({ url: origin, token }).whoami()).rejects.toThrow()

    const cli = (env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> => new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, 'mechas', 'list'], { env: { PATH: process.env.PATH ?? '', MECHA_URL: origin, MECHA_OPERATOR_TOKEN: OPERATOR, ...env } })
      let out = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8') })
      child.stderr.on('data', (d: Buffer) => { err += d.toString('utf8') })
      child.on('exit', (code) => resolve({ code, out, err }))
    })
    const trusted = await cli({ MECHA_CA_FILE: caPath })
    expect(trusted.err).toBe('')
    expect(trusted.code).toBe(0)
    expect(trusted.out).toContain('tls-runtime')
    expect((await cli({})).code).not.toBe(0)
  })

  it('serves a certificate swapped on disk after SIGHUP, and an open connection survives', async () => {
    const open = await new Promise<TLSSocket>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(origin).port), ca: readFileSync(caPath) }, () => resolve(socket))
      socket.on('error', reject)
    })
    expect(await requestOn(open, '/healthz')).toBe('HTTP/1.1 200 OK')

    install(second)
    svc.child.kill('SIGHUP')
    expect(await within(BOUND_MS, async () => (await servedFingerprint()) === second.fingerprint)).toBe(true)
    expect(svc.child.exitCode).toBeNull()
    expect(open.getPeerCertificate().fingerprint256).toBe(first.fingerprint)
    expect(await requestOn(open, '/healthz')).toBe('HTTP/1.1 200 OK')
    open.end()
  })

  it('serves a certificate changed on disk without a signal', async () => {
    install(first)
    expect(await within(BOUND_MS, async () => (await servedFingerprint()) === first.fingerprint)).toBe(true)
  })

  it('keeps the certificate in force when the new one is invalid, logging the file and no key material', async () => {
    writeFileSync(certPath, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n')
    svc.child.kill('SIGHUP')
    expect(await within(BOUND_MS, async () => svc.stdout().includes('TLS certificate reload failed'))).toBe(true)
    expect(await servedFingerprint()).toBe(first.fingerprint)
    expect(svc.stdout()).toContain(JSON.stringify(certPath))
    const keyBody = readFileSync(keyPath, 'utf8').split('\n')[1] as string
    expect(svc.stdout() + svc.stderr()).not.toContain(keyBody)
    const ready = JSON.parse((await httpsGet('/readyz')).body) as { reloads: { name: string; ok: boolean }[] }
    expect(ready.reloads).toContainEqual(expect.objectContaining({ name: 'tls_certificate', ok: false }))
  })
})

describe('TLS configuration at start', () => {
  const start = (env: Record<string, string>): Promise<{ code: number | null; err: string }> => new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH ?? '', PORT: '0', MECHA_DATA_DIR: join(cwd, 'data-start'), ...env } })
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString('utf8') })
    const timer = setTimeout(() => child.kill('SIGTERM'), 10_000)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, err }) })
  })

  it('stops when only one of the two paths is set, naming the missing variable', async () => {
    const result = await start({ MECHA_TLS_CERT_PATH: certPath })
    expect(result.code).toBe(1)
    expect(result.err).toContain('MECHA_TLS_KEY_PATH')
  })

  it('stops in production without TLS unless MECHA_TLS=proxy says it is terminated in front', async () => {
    const production = { NODE_ENV: 'production', MECHA_MASTER_KEY: 'ab'.repeat(32), MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [OPERATOR]: 'ops' }), MECHA_METRICS: 'off' }
    const result = await start(production)
    expect(result.code).toBe(1)
    expect(result.err).toContain('MECHA_TLS=proxy')
  })
})
