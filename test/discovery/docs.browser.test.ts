import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { parse } from 'yaml'
import { readOpenapiYaml } from '../../src/discovery/routes.js'
import { OPERATORS, testApp, type TestApp } from '../helpers/app.js'
import { BROWSER_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, describeWithChromium } from '../helpers/chromium.js'

const SCREENSHOT = '/tmp/docs.png'

/** Every operation in the committed document, as Swagger UI ids its blocks: operations-<first tag>-<operationId>. */
function documentedOperations(): { domId: string; method: string; path: string; operationId: string }[] {
  const doc = parse(readOpenapiYaml()) as { paths: Record<string, Record<string, { operationId?: string; tags?: string[] }>> }
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item)
    .filter(([method]) => ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(method))
    .map(([method, operation]) => ({
      domId: `operations-${operation.tags?.[0] ?? 'default'}-${operation.operationId ?? ''}`,
      method: method.toUpperCase(),
      path,
      operationId: operation.operationId ?? '',
    })))
}

interface PageRecord {
  requests: string[]
  pageErrors: string[]
}

function record(page: Page): PageRecord {
  const seen: PageRecord = { requests: [], pageErrors: [] }
  page.on('request', (request) => seen.requests.push(request.url()))
  page.on('pageerror', (error) => seen.pageErrors.push(error.message))
  return seen
}

describeWithChromium('GET /docs in a real browser', () => {
  let t: TestApp
  let browser: Browser
  let origin: string

  beforeAll(async () => {
    t = await testApp()
    await t.app.listen({ host: '127.0.0.1', port: 0 })
    origin = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  }, BROWSER_TIMEOUT_MS)

  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  async function openDocs(): Promise<{ page: Page; seen: PageRecord; csp: string | undefined }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const seen = record(page)
    // Collected before any page script runs; the page's own CSP does not apply to init scripts.
    await page.addInitScript(() => {
      const violations: string[] = []
      Object.assign(window, { cspViolations: violations })
      document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`))
    })
    const response = await page.goto(`${origin}/docs`, { waitUntil: 'load' })
    expect(response?.status()).toBe(200)
    await page.locator('.opblock').first().waitFor({ state: 'visible', timeout: 30_000 })
    return { page, seen, csp: response?.headers()['content-security-policy'] }
  }

  it('renders every operation of the committed document, loading nothing from another host', async () => {
    const { page, seen, csp } = await openDocs()
    const operations = documentedOperations()
    expect(operations.length).toBeGreaterThan(10)
    await expect.poll(() => page.locator('.opblock').count()).toBe(operations.length)
    for (const op of operations) {
      const block = page.locator(`#${op.domId}`)
      await expect.poll(() => block.count(), { message: `${op.method} ${op.path} (${op.operationId})` }).toBe(1)
      expect((await block.locator('.opblock-summary-method').innerText()).trim()).toBe(op.method)
      expect((await block.locator('.opblock-summary-path').innerText()).replace(/\u200b/g, '').trim()).toBe(op.path)
      expect((await block.locator('.opblock-summary-operation-id').innerText()).trim()).toBe(op.operationId)
    }
    // The ones a reader comes for, by name.
    await expect.poll(() => page.locator('#operations-messages-sendMessage .opblock-summary-description').innerText()).toBe('Send a message')
    await expect.poll(() => page.locator('#operations-keys-issueKey .opblock-summary-description').innerText()).toBe('Issue a Mecha key')
    await expect.poll(() => page.locator('#operations-health-healthz .opblock-summary-description').innerText()).toBe('Liveness probe')
    await expect.poll(() => page.locator('.info .title').innerText()).toContain('Mecharim')

    await page.screenshot({ path: SCREENSHOT, fullPage: true })

    expect(csp).toContain("script-src 'self'")
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([])
    expect(seen.pageErrors).toEqual([])
    expect(seen.requests.length).toBeGreaterThan(3)
    const elsewhere = seen.requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin)
    expect(elsewhere).toEqual([])
    await page.close()
  }, BROWSER_TIMEOUT_MS)

  it('keeps a credential typed into "Authorize" out of browser storage', async () => {
    const { page, seen } = await openDocs()
    await page.locator('.auth-wrapper .authorize').click()
    const modal = page.locator('.modal-ux')
    await modal.waitFor({ state: 'visible' })
    const typed = `adm_${'z'.repeat(40)}`
    await modal.locator('input').first().fill(typed)
    await modal.locator('button.authorize').first().click()
    await expect.poll(() => modal.locator('button', { hasText: 'Logout' }).count()).toBeGreaterThan(0)

    const stored = await page.evaluate(() => JSON.stringify({ local: { ...window.localStorage }, session: { ...window.sessionStorage } }))
    expect(stored).not.toContain(typed)
    expect(stored).toBe('{"local":{},"session":{}}')
    expect(JSON.stringify(await page.context().cookies())).not.toContain(typed)
    // Authorizing is local to the page: nothing was sent anywhere.
    expect(seen.requests.filter((url) => url.includes(typed))).toEqual([])
    await page.close()
  }, BROWSER_TIMEOUT_MS)

  // Issue 11: Authorize showed "unsupported scheme 'mecha'", so no runtime route could be tried, and
  // nothing said that a runtime request also needs a fresh timestamp and nonce.
  it('lets a person try a runtime route with a Mecha key: the page adds a fresh timestamp and nonce', async () => {
    await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: { authorization: `Bearer ${OPERATORS.admin}` }, payload: { id: 'docs-bot' } })
    const issued = await t.app.inject({ method: 'POST', url: '/v1/mechas/docs-bot/keys', headers: { authorization: `Bearer ${OPERATORS.admin}` }, payload: {} })
    const token = (issued.json() as { token: string }).token
    const { page, seen } = await openDocs()
    const sent: Record<string, string>[] = []
    const answered: number[] = []
    page.on('request', (request) => { if (new URL(request.url()).pathname === '/v1/whoami') sent.push(request.headers()) })
    page.on('response', (response) => { if (new URL(response.url()).pathname === '/v1/whoami') answered.push(response.status()) })

    await expect.poll(() => page.locator('body').innerText()).toMatch(/fresh `?Mecha-Timestamp`? and `?Mecha-Nonce`?|fills in a current Mecha-Timestamp/)
    await page.locator('.auth-wrapper .authorize').click()
    const modal = page.locator('.modal-ux')
    await modal.waitFor({ state: 'visible' })
    expect(await modal.innerText()).not.toMatch(/unsupported scheme/i)
    const mechaKey = modal.locator('.auth-container').filter({ has: page.locator('h4', { hasText: /^mechaKey/ }) })
    await expect.poll(() => mechaKey.count()).toBe(1)
    await mechaKey.locator('input').first().fill(token)
    await mechaKey.locator('button.authorize').click()
    await modal.locator('button.close-modal').click()

    const operation = page.locator('#operations-runtime-whoami')
    await operation.locator('.opblock-summary').click()
    await operation.locator('button.try-out__btn').click()
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      await operation.locator('button.execute').click()
      await expect.poll(() => sent.length).toBe(attempt)
      await expect.poll(() => answered.length).toBe(attempt)
    }
    const now = Math.floor(Date.now() / 1000)
    for (const headers of sent) {
      expect(headers.authorization).toBe(`Mecha ${token}`)
      expect(Math.abs(Number(headers['mecha-timestamp']) - now)).toBeLessThan(60)
      expect(headers['mecha-nonce']).toMatch(/^[A-Za-z0-9_-]{22,128}$/)
      // The example values of the signature fields are not sent: the page cannot sign.
      expect(headers.signature).toBeUndefined()
      expect(headers['signature-input']).toBeUndefined()
    }
    expect(sent[0]?.['mecha-nonce']).not.toBe(sent[1]?.['mecha-nonce'])
    // Both answered by the gateway itself, the second with a nonce of its own (no replayed_nonce).
    expect(answered).toEqual([200, 200])
    await expect.poll(() => operation.locator('.live-responses-table tbody .response-col_status').first().innerText()).toContain('200')
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([])
    expect(seen.pageErrors).toEqual([])
    await page.screenshot({ path: '/tmp/docs-try-runtime.png', fullPage: false })
    await page.close()
  }, BROWSER_TIMEOUT_MS)
})
