/**
 * Salesforce and S3 calls through real HTTP CONNECT proxies (tinyproxy with
 * BasicAuth): an inbound run with salesforce.proxy on one tinyproxy,
 * sdrive.proxy on another and the partner endpoint behind microsocks; each
 * proxy's own log shows the tunnels it opened to the sandbox, so each kind
 * of call went through its proxy. HTTP_PROXY from the environment is
 * honoured, and NO_PROXY bypasses it; a wrong proxy password is
 * PROXY_AUTH_FAILED for the token call and for an S3 upload, and no proxy
 * password reaches the logs.
 */
import { Readable } from 'node:stream'
import t from 'tap'
import { proxyAgent } from '../../src/adapters/proxy/http-agents.js'
import { requestToken } from '../../src/adapters/salesforce/auth.js'
import { checkUploadUrl } from '../../src/adapters/sdrive/s3-check.js'
import { uploadToS3 } from '../../src/adapters/sdrive/s3-upload.js'
import type { SalesforceConfig } from '../../src/config/schema.js'
import { skipUnlessDaemon } from '../support/daemons.js'
import { sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'
import { microsocksPath, startMicrosocks, startTinyproxy, tinyproxyPath } from '../support/proxies.js'
import { failureCode } from '../support/remote-files-contract.js'

t.setTimeout(120_000)

const skip = skipUnlessDaemon(tinyproxyPath) || skipUnlessDaemon(microsocksPath)
const PASSWORD = 'proxy-pass-7f3c9a'

t.test('Salesforce and S3 through HTTP CONNECT proxies', { skip }, async (t) => {
  const salesforceProxy = await startTinyproxy('sf', PASSWORD)
  t.teardown(salesforceProxy.close)
  const s3Proxy = await startTinyproxy('s3', PASSWORD)
  t.teardown(s3Proxy.close)
  const partnerProxy = await startMicrosocks('partner', PASSWORD)
  t.teardown(partnerProxy.close)

  const proxyConfig = (proxy: { url: string; username: string }) => ({
    url: proxy.url,
    username: proxy.username,
    password: '${PROXY_PASSWORD}',
  })
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [standardFlow(endpoint)],
    salesforce: { proxy: proxyConfig(salesforceProxy) },
    sdrive: { proxy: proxyConfig(s3Proxy) },
    endpoint: { proxy: proxyConfig(partnerProxy) },
    env: { PROXY_PASSWORD: PASSWORD },
  })
  t.teardown(() => h.close())
  const sandboxPort = Number(new URL(h.sandbox.url).port)

  await t.test('an inbound run: every call goes through its proxy', async (t) => {
    seedRecords(h.sandbox)
    await h.put('inbox/ACME-001_contract.pdf', 'acme contract through three proxies')
    const run = await h.runAndWait('partner-docs')
    t.equal(run.state, 'succeeded', 'the run succeeds')
    t.equal(run.counts.done, 1)
    t.equal(sdriveFiles(h.sandbox).length, 1, 'the file is in S-Drive')

    const salesforceTunnels = await salesforceProxy.targets()
    const s3Tunnels = await s3Proxy.targets()
    t.ok(
      salesforceTunnels.length > 0,
      `Salesforce calls went through their proxy (${salesforceTunnels.length} tunnels)`,
    )
    t.ok(
      salesforceTunnels.every((port) => port === sandboxPort),
      'to the org',
    )
    t.ok(s3Tunnels.length > 0, `the S3 upload went through its proxy (${s3Tunnels.length} tunnels)`)
    t.ok(
      s3Tunnels.every((port) => port === sandboxPort),
      'to the bucket',
    )
    t.ok(
      (await partnerProxy.targets()).includes(h.remote.port),
      'the partner server was reached through SOCKS5',
    )
    t.notOk(h.logs.join('').includes(PASSWORD), 'no proxy password in the logs')
  })

  await t.test('HTTP_PROXY from the environment, and NO_PROXY', async (t) => {
    // The Salesforce proxy, which has carried no S3 call yet: the tunnel is a new one.
    const env = { HTTP_PROXY: `http://sf:${PASSWORD}@127.0.0.1:${salesforceProxy.port}` }
    const before = (await salesforceProxy.targets()).length
    const agent = proxyAgent(h.sandbox.s3UploadUrl, undefined, env)
    t.ok(agent, 'a proxy applies')
    const answer = await checkUploadUrl(h.sandbox.s3UploadUrl, 10_000, undefined, agent)
    t.equal(answer.error, null, 'S3 answered through the proxy')
    t.equal((await salesforceProxy.targets()).length, before + 1, 'one more tunnel in the proxy log')
    t.equal(
      proxyAgent(h.sandbox.s3UploadUrl, undefined, { ...env, NO_PROXY: '127.0.0.1' }),
      undefined,
      'NO_PROXY naming the host: direct',
    )
  })

  await t.test('a wrong proxy password is PROXY_AUTH_FAILED', async (t) => {
    const wrong = { url: salesforceProxy.url, username: 'sf', password: 'wrong', connectTimeoutMs: 10_000 }
    const config = {
      loginUrl: h.sandbox.url,
      apiVersion: '63.0',
      auth: {
        type: 'client_credentials',
        clientId: h.sandbox.clientId,
        clientSecret: h.sandbox.clientSecret,
      },
      timeoutMs: 10_000,
      maxRetries: 0,
      apiLimitProbeIntervalMs: 60_000,
      proxy: wrong,
    } as SalesforceConfig
    t.equal(
      await failureCode(requestToken(config, AbortSignal.timeout(20_000))),
      'PROXY_AUTH_FAILED',
      'the Salesforce token call',
    )
    const upload = uploadToS3({
      url: h.sandbox.s3UploadUrl,
      fields: [['key', 'x/y.txt']],
      fileName: 'y.txt',
      contentType: 'text/plain',
      body: Readable.from([Buffer.from('y')]),
      sizeBytes: 1,
      idleTimeoutMs: 10_000,
      agent: proxyAgent(h.sandbox.s3UploadUrl, { ...wrong, url: s3Proxy.url }) as NonNullable<
        ReturnType<typeof proxyAgent>
      >,
    })
    t.equal(await failureCode(upload), 'PROXY_AUTH_FAILED', 'the S3 upload')
  })
})
