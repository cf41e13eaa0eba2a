import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { decodeJwt } from 'jose'
import { pino } from 'pino'
import { type Gateway, type GatewayOptions, startGateway } from '../../src/gateway/gateway.js'
import { issue, makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { makeTlsPki, pem, servedCn, type TlsPki } from '../helpers/tls.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

/** An HTTPS GET that checks the listener's certificate against `ca` for `servername`. */
function httpsGet(url: string, ca: string, servername: string) {
  return new Promise<{ status: number }>((resolve, reject) => {
    const req = httpsRequest(url, { ca, servername, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('HTTPS listener (--listen-ssl) with SNI and a default certificate', () => {
  let dir: string
  let signing: Pki
  let pki: TlsPki
  let upstream: TestUpstream
  let gateway: Gateway
  let files: { cert: string; key: string }
  const lines: string[] = []
  let rsaAlt: { cert: string; key: string }
  const config = (extra: Record<string, unknown> = {}) => ({
    _format_version: '3.0',
    certificates: [
      { id: 'site-a', ...pki.siteA, snis: [{ name: 'a.example.test' }] },
      { id: 'site-b', ...pki.siteB },
    ],
    snis: [{ name: '*.b.example.test', certificate: { id: 'site-b' } }],
    services: [{ name: 'plain', url: upstream.url, routes: [{ name: 'all', paths: ['/'] }] }],
    plugins: [
      {
        name: 'kong-upstream-jwt',
        config: {
          private_key_location: signing.files.key,
          public_key_location: signing.files.chain,
          algorithm: 'ES256',
          bind_request: true,
        },
      },
    ],
    ...extra,
  })
  const options = (extra: Partial<GatewayOptions> = {}): GatewayOptions => ({
    config: config(),
    listen: { host: '127.0.0.1', port: 0 },
    listenSsl: { host: '127.0.0.1', port: 0 },
    ssl: files,
    adminListen: false,
    logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
    ...extra,
  })

  before(async () => {
    dir = await makeTempDir()
    signing = await makePki(dir)
    pki = await makeTlsPki()
    rsaAlt = pem(await issue('a.example.test', 'RS256', pki.root, { altNames: ['a.example.test'] }))
    upstream = await startUpstream()
    files = { cert: join(dir, 'default.pem'), key: join(dir, 'default.key') }
    await writeFile(files.cert, pki.listenerDefault.cert)
    await writeFile(files.key, pki.listenerDefault.key, { mode: 0o600 })
    gateway = await startGateway(options())
  })
  after(async () => {
    await gateway?.close()
    await upstream?.close()
    await removeDir(dir)
  })

  test('serves the certificate for the SNI: exact, wildcard, else the default', async () => {
    assert.match(gateway.sslUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(await servedCn(gateway.sslUrl!, pki.caPem, 'a.example.test'), 'a.example.test')
    assert.equal(await servedCn(gateway.sslUrl!, pki.caPem, 'x.b.example.test'), 'wild')
    assert.equal(await servedCn(gateway.sslUrl!, pki.caPem, 'unknown.test'), 'default.test')
    assert.equal(await servedCn(gateway.sslUrl!, pki.caPem), 'default.test')
  })

  test('refused: SNI certificates Node could not serve faithfully (cert_alt, another key type)', async () => {
    const refusedWith = (certificates: unknown[], pattern: RegExp) =>
      assert.rejects(startGateway(options({ config: config({ certificates }) })), (err: Error) => {
        assert.match(err.message, pattern)
        assert.doesNotMatch(err.message, /BEGIN/)
        return true
      })
    await refusedWith(
      [
        {
          id: 'dual',
          ...pki.siteA,
          cert_alt: rsaAlt.cert,
          key_alt: rsaAlt.key,
          snis: [{ name: 'a.example.test' }],
        },
        { id: 'site-b', ...pki.siteB },
      ],
      /certificate dual: cert_alt\/key_alt cannot be served for its snis/,
    )
    await refusedWith(
      [
        { id: 'rsa-site', ...rsaAlt, snis: [{ name: 'a.example.test' }] },
        { id: 'site-b', ...pki.siteB },
      ],
      /certificate rsa-site: its key type \(rsa\) differs from the default certificate's \(ec\)/,
    )
  })

  test('requests through it are forwarded with X-Forwarded-Proto https', async () => {
    const before = upstream.seen.length
    assert.equal(
      (await httpsGet(`${gateway.sslUrl}/hello?x=1`, pki.caPem, 'a.example.test')).status,
      200,
    )
    const seen = upstream.seen[before]!
    assert.equal(seen.headers['x-forwarded-proto'], 'https')
    assert.equal(seen.headers['x-forwarded-port'], new URL(gateway.sslUrl!).port)
    // htu is the request as forwarded (the upstream's scheme), as the Kong plugin signs it.
    const claims = decodeJwt(String(seen.headers.jwt))
    assert.equal(claims.htu, `${upstream.url}/hello`)
    // The plain listener still says http.
    await fetch(`${gateway.url}/plain`)
    assert.equal(upstream.seen.at(-1)!.headers['x-forwarded-proto'], 'http')
  })

  test('reload swaps certificates; a key that does not match is refused and the old kept', async () => {
    await writeFile(files.cert, pki.siteA.cert)
    await writeFile(files.key, pki.siteA.key)
    assert.equal(await gateway.reload(), true)
    assert.equal(await servedCn(gateway.sslUrl!, pki.caPem), 'a.example.test')

    await writeFile(files.key, pki.siteB.key)
    assert.equal(await gateway.reload(), false)
    const refusal = lines.findLast((l) => l.includes('new configuration refused'))!
    assert.match(
      refusal,
      /--ssl-cert .*default\.pem \/ --ssl-key .*default\.key: certificate does not match key/,
    )
    assert.doesNotMatch(refusal, /BEGIN/)
    assert.equal(await servedCn(gateway.sslUrl!, pki.caPem), 'a.example.test')
    await writeFile(files.cert, pki.listenerDefault.cert)
    await writeFile(files.key, pki.listenerDefault.key)
    assert.equal(await gateway.reload(), true)
    assert.equal(await servedCn(gateway.sslUrl!, pki.caPem), 'default.test')
  })

  test('a certificates entity whose key does not match is refused at load with its id', async () => {
    await assert.rejects(
      startGateway(
        options({
          config: config({
            certificates: [{ id: 'broken-site', cert: pki.siteA.cert, key: pki.siteB.key }],
          }),
        }),
      ),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_OPTION_INVALID')
        assert.match(err.message, /certificate broken-site: certificate does not match key/)
        assert.doesNotMatch(err.message, /BEGIN/)
        return true
      },
    )
  })

  test('--listen-ssl without a certificate is refused', async () => {
    await assert.rejects(startGateway(options({ ssl: undefined })), /needs listenSsl with ssl/)
  })
})
