/**
 * The console in a real headless Chromium (Debian's, driven by
 * playwright-core) against the sandbox and a bridge on real sockets: sign in
 * through the form, find a file that failed on its run's page, create the
 * missing record in the org, press "Retry failed" and watch the file turn
 * done; a POST without the CSRF token is refused; sign-out works; the CSP
 * holds with no violation. A screenshot of each page goes to .tap/console/
 * and, when CONSOLE_SCREENSHOTS_DIR is set, there too.
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import t from 'tap'
import { CONTENT_SECURITY_POLICY } from '../../routes/console/index.js'
import { API_KEY, type Harness, sdriveFiles, startHarness } from '../support/harness.js'

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const shotDirs = [resolve('.tap/console'), process.env.CONSOLE_SCREENSHOTS_DIR]
  .filter((d): d is string => Boolean(d))
  .map((d) => resolve(d))
/** Generous: other suites share the machine's two cores. */
const WAIT_MS = 60_000

// A browser, the sandbox and two runs: more than the default file budget on a busy machine.
t.setTimeout(10 * 60_000)

const reviewedFlow = (endpoint: string) => ({
  name: 'partner-docs',
  kind: 'inbound',
  source: { endpoint, directory: '/inbox', include: ['*.pdf'] },
  readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
  match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
  target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c', description: 'From {flow}' },
  existing: 'skip',
  after: { success: 'move', processedDirectory: '/processed', errorDirectory: '/errors' },
  retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
  review: { dropZone: { directory: '/rejected/{record.id}' } },
  schedule: { cron: '*/15 * * * *' },
})

async function screenshot(page: Page, name: string): Promise<void> {
  for (const dir of shotDirs) {
    await mkdir(dir, { recursive: true })
    await page.screenshot({ path: join(dir, `${name}.png`) })
  }
}

t.test('the console in headless Chromium', async (t) => {
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}: install Debian's chromium (.ci/run does) or set CHROMIUM_PATH`,
    )
  }
  const h: Harness = await startHarness({
    protocol: 'sftp',
    flows: (e) => [reviewedFlow(e)],
    env: { HOOK_SECRET: 'console-test-hook-secret' },
    // The run's failed file is told to a webhook (the sandbox's receiver) and by email through the org.
    notifications: (sandbox) => ({
      channels: {
        'ops-hook': { type: 'webhook', url: sandbox.webhookUrl('ops'), secret: '${HOOK_SECRET}' },
        admins: { type: 'salesforceEmail', to: ['ops@example.com'] },
      },
      rules: [
        { on: ['run.partially_failed', 'file.failed'], flows: ['*'], channel: 'ops-hook' },
        { on: ['file.failed'], flows: ['*'], channel: 'admins' },
      ],
      pollIntervalMs: 50,
    }),
  })
  t.teardown(() => h.close())
  const acme = h.sandbox.insert('Account', { Name: 'Acme', AccountNumber: 'ACME-001' })
  await h.put('inbox/ACME-001_contract.pdf', 'signed contract')
  await h.put('inbox/NEWCO-9_invoice.pdf', 'invoice for a customer the org does not know yet')
  const run = await h.runAndWait('partner-docs')
  t.match(run.counts, { done: 1, failed: 1 }, 'one file in, one without a record')
  const original = sdriveFiles(h.sandbox).find((f) => f.cg__Account__c === acme)
  const rejected = await h.api('POST', '/v1/flows/partner-docs/rejections', {
    body: {
      fileId: original?.Id,
      reasonCode: 'UNSIGNED',
      reason: 'The contract lacks the second signature.',
    },
  })
  t.equal(rejected.status, 202)
  await h.server.bridge.reviews.settled(rejected.json.correlationId)

  const browser: Browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
  t.teardown(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  page.setDefaultTimeout(WAIT_MS)
  const violations: string[] = []
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text())
  })
  page.on('dialog', (d) => void d.accept())
  t.comment(`screenshots in ${shotDirs.join(', ')}`)

  await t.test(
    'an unauthenticated visit lands on the sign-in form; signing in opens the overview',
    async (t) => {
      const res = await page.goto(`${h.url}/console`)
      t.equal(new URL(page.url()).pathname, '/console/sign-in')
      t.equal(res?.headers()['content-security-policy'], CONTENT_SECURITY_POLICY, 'the CSP header')
      await screenshot(page, 'sign-in')
      await page.fill('input[name=apiKey]', API_KEY)
      await Promise.all([page.waitForURL(`${h.url}/console`), page.click('button:has-text("Sign in")')])
      t.match(await page.textContent('main'), /partner-docs/)
      t.notOk(page.url().includes(API_KEY), 'the key is in no URL')
      t.equal(
        await page.evaluate(() => JSON.stringify(window.localStorage) + document.cookie),
        '{}',
        'nothing in localStorage; the session cookie is HttpOnly',
      )
      await screenshot(page, 'overview')
    },
  )

  await t.test('the failed file on its run page; fixed in the org; retried; done', async (t) => {
    await page.goto(`${h.url}/console/runs`)
    await screenshot(page, 'runs')
    await Promise.all([page.waitForURL(/\/console\/runs\/run_/), page.click(`a:has-text("${run.id}")`)])
    const row = page.locator('tr', { hasText: 'NEWCO-9_invoice.pdf' })
    t.match(await row.textContent(), /failed.*NO_MATCHING_RECORD/s, 'the failed file and why')
    t.match(
      await page.locator('tr', { hasText: 'ACME-001_contract.pdf' }).locator('a').getAttribute('href'),
      new RegExp(`/${acme}$`),
      'the done file links to its record in the org',
    )
    await screenshot(page, 'run-failed')
    h.sandbox.insert('Account', { Name: 'Newco', AccountNumber: 'NEWCO-9' })
    await Promise.all([page.waitForURL(/done=retry/), page.click('button:has-text("Retry failed")')])
    t.match(await page.textContent('.notice'), /Retrying 1 failed file/)
    // The page follows the run's event stream and reloads when it ends.
    await row.locator('.state', { hasText: /^done$/ }).waitFor()
    t.match(await row.textContent(), /done/)
    await h.server.bridge.engine.settled(run.id)
    t.equal((await h.api('GET', `/v1/runs/${run.id}`)).json.counts.done, 2, 'the API agrees')
    await screenshot(page, 'run-retried')
  })

  await t.test('dry run, rejections, endpoints', async (t) => {
    await h.put('inbox/ACME-001_addendum.pdf', 'addendum')
    await h.put('inbox/GLOBEX-7_order.pdf', 'an order for a customer the org does not know')
    await page.click('button:has-text("Dry run")')
    await page.waitForSelector('h1:has-text("Dry run of partner-docs")')
    t.match(await page.textContent('main'), /ACME-001_addendum\.pdf[\s\S]*upload/, 'the plan: file → action')
    t.equal(await h.exists('inbox/GLOBEX-7_order.pdf'), true, 'nothing moved')
    await screenshot(page, 'dry-run')
    await page.goto(`${h.url}/console/rejections`)
    t.match(await page.textContent('main'), /UNSIGNED.*second signature/s, 'the rejection chain')
    await screenshot(page, 'rejections')
    await page.goto(`${h.url}/console/endpoints`)
    await screenshot(page, 'endpoints')
    await page.click('button:has-text("Check")')
    await page.waitForSelector('h1:has-text("Check of partner")')
    t.match(await page.textContent('main'), /Host key[\s\S]*SHA256:/, 'the fingerprint')
    t.match(await page.textContent('main'), /\/inbox/, 'the directories')
    await screenshot(page, 'endpoint-check')
  })

  await t.test('notifications: the outbox with what was sent for the failed file', async (t) => {
    await h.sandbox.waitForWebhooks(1, 'ops')
    await page.goto(`${h.url}/console/notifications`)
    const hook = page.locator('tr', { hasText: 'ops-hook' }).first()
    t.match(
      await hook.textContent(),
      /partially_failed[\s\S]*NEWCO-9_invoice\.pdf[\s\S]*sent/,
      'the webhook message, sent',
    )
    t.match(await page.textContent('main'), /admins[\s\S]*ops@example\.com/, 'the email through the org')
    t.notMatch(
      await page.textContent('main'),
      /console-test-hook-secret|\/sandbox\/webhooks/,
      'no secret, no URL path',
    )
    await screenshot(page, 'notifications')
    await page.selectOption('select[name=state]', 'failed')
    await Promise.all([page.waitForURL(/state=failed/), page.click('button:has-text("Show")')])
    t.match(await page.textContent('tbody'), /No notifications/, 'filtered by state')
  })

  await t.test('a POST without the CSRF token is refused; sign-out works', async (t) => {
    const status = await page.evaluate(async (url) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      })
      return res.status
    }, `${h.url}/console/runs/${run.id}/retry`)
    t.equal(status, 403, 'the session cookie alone does not make a POST')
    await Promise.all([page.waitForURL(/\/console\/sign-in$/), page.click('button:has-text("Sign out")')])
    await page.goto(`${h.url}/console/runs`)
    t.equal(new URL(page.url()).pathname, '/console/sign-in', 'signed out')
    t.same(violations, [], 'no Content-Security-Policy violation on any page')
  })
})
