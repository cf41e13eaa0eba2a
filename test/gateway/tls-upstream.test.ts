import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { pino } from 'pino'
import { type Gateway, startGateway } from '../../src/gateway/gateway.js'
import { issue, makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { makeTlsPki, pem, type TlsPki } from '../helpers/tls.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

/** A request with a Host header of our choosing; resolves status and parsed JSON body. */
function send(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('upstream TLS (real TLS upstreams on 127.0.0.1, a private CA made now)', () => {
  let dir: string
  let signing: Pki
  let pki: TlsPki
  const up: Record<string, TestUpstream> = {}
  let gateway: Gateway
  const lines: string[] = []

  before(async () => {
    dir = await makeTempDir()
    signing = await makePki(dir)
    pki = await makeTlsPki()
    const root = pki.caPem
    // A chain with one intermediate CA, for tls_verify_depth.
    const inter = await issue('Private Intermediate CA', 'ES256', pki.root, {
      ca: true,
      pathLength: 0,
    })
    const chained = await issue('upstream', 'ES256', inter, { altNames: ['127.0.0.1'] })
    const servers = {
      trusted: { ...pki.server },
      mismatch: { ...pki.wrongName },
      expired: { ...pki.expired },
      untrusted: { ...pki.untrusted },
      mtls: { ...pki.server, ca: root, requestCert: true, rejectUnauthorized: true },
      mtls12: {
        ...pki.server,
        ca: root,
        requestCert: true,
        rejectUnauthorized: true,
        maxVersion: 'TLSv1.2' as const,
      },
      chained: pem(chained, inter),
    }
    for (const [name, options] of Object.entries(servers)) up[name] = await startUpstream(options)
    const svc = (name: string, target: TestUpstream, fields: Record<string, unknown> = {}) => ({
      name,
      url: target.url,
      retries: 0,
      routes: [{ name, paths: [`/${name}`] }],
      ...fields,
    })
    const trust = { ca_certificates: ['private-ca'] }
    gateway = await startGateway({
      config: {
        _format_version: '3.0',
        ca_certificates: [{ id: 'private-ca', cert: root }],
        certificates: [{ id: 'gateway-client', ...pki.client }],
        services: [
          svc('trusted', up.trusted!, trust),
          svc('system-store', up.trusted!),
          svc('untrusted', up.untrusted!, trust),
          svc('mismatch', up.mismatch!, trust),
          svc('expired', up.expired!, trust),
          svc('verify-off', up.untrusted!, { tls_verify: false }),
          svc('mtls', up.mtls!, { ...trust, client_certificate: { id: 'gateway-client' } }),
          svc('mtls-missing', up.mtls!, trust),
          svc('mtls12-missing', up.mtls12!, trust),
          svc('depth-0', up.chained!, { ...trust, tls_verify_depth: 0 }),
          svc('depth-1', up.chained!, { ...trust, tls_verify_depth: 1 }),
          {
            ...svc('preserve', up.mismatch!, trust),
            routes: [{ name: 'preserve', paths: ['/preserve'], preserve_host: true }],
          },
        ],
        plugins: [
          {
            name: 'kong-upstream-jwt',
            config: {
              private_key_location: signing.files.key,
              public_key_location: signing.files.chain,
              algorithm: 'ES256',
            },
          },
        ],
      },
      listen: { host: '127.0.0.1', port: 0 },
      adminListen: false,
      logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
    })
  })
  after(async () => {
    await gateway?.close()
    await Promise.all(Object.values(up).map((u) => u.close()))
    await removeDir(dir)
  })

  const ok = async (path: string, headers?: Record<string, string>) => {
    const { status } = await send(`${gateway.url}${path}`, headers)
    assert.equal(status, 200, lines.at(-1))
  }

  /** 502 with Kong's message and the TLS code; the log names host:port and the cause. */
  const fails = async (path: string, target: TestUpstream, cause: RegExp) => {
    const { status, body } = await send(`${gateway.url}${path}`)
    assert.equal(status, 502)
    assert.deepEqual(body, {
      message: 'An invalid response was received from the upstream server',
      code: 'ERR_UPSTREAM_TLS',
    })
    const line = JSON.parse(lines.findLast((l) => l.includes(`"path":"${path}"`))!)
    assert.equal(line.status, 502)
    assert.ok(line.error.includes(`127.0.0.1:${target.port}`), line.error)
    assert.match(line.error, cause)
    assert.doesNotMatch(lines.join(''), /BEGIN|PRIVATE KEY/, 'no certificate or key in the log')
  }

  test('trusted through ca_certificates: forwarded and signed', async () => {
    const before = up.trusted!.seen.length
    await ok('/trusted')
    const seen = up.trusted!.seen[before]!
    assert.match(String(seen.headers.jwt), /^[\w-]+\.[\w-]+\.[\w-]+$/)
  })

  test('without ca_certificates the system trust store applies: a private CA is untrusted', () =>
    fails(
      '/system-store',
      up.trusted!,
      /certificate untrusted \(no trusted CA issued it\) \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
    ))

  test('a certificate from another CA is untrusted', () =>
    fails('/untrusted', up.untrusted!, /certificate untrusted \(no trusted CA issued it\)/))

  test('a certificate for another name is a name mismatch', () =>
    fails('/mismatch', up.mismatch!, /certificate name mismatch \(ERR_TLS_CERT_ALTNAME_INVALID\)/))

  test('an expired certificate', () =>
    fails('/expired', up.expired!, /certificate expired \(CERT_HAS_EXPIRED\)/))

  test('tls_verify: false forwards to an untrusted upstream', () => ok('/verify-off'))

  test('client_certificate: presented when the upstream requires one', async () => {
    const before = up.mtls!.seen.length
    await ok('/mtls')
    assert.equal(up.mtls!.seen[before]!.clientCert, 'gateway-client')
  })

  test('no client certificate where one is required: the handshake refusal is named', () =>
    fails(
      '/mtls-missing',
      up.mtls!,
      /handshake refused: the upstream requires a client certificate \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\)/,
    ))

  test('TLS 1.2: the refusal comes during the handshake, and says so', () =>
    fails(
      '/mtls12-missing',
      up.mtls12!,
      /handshake refused by the upstream \(a client certificate required\? .*\(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE\)/,
    ))

  test('tls_verify_depth counts intermediate CAs as OpenSSL does', async () => {
    await ok('/depth-1')
    await fails(
      '/depth-0',
      up.chained!,
      /chain longer than tls_verify_depth \(CERT_CHAIN_TOO_LONG\)/,
    )
  })

  test("preserve_host: the client's Host is the name checked (SNI), as Kong does", async () => {
    await ok('/preserve', { host: 'elsewhere.test' })
    const { status } = await send(`${gateway.url}/preserve`, { host: 'other.test' })
    assert.equal(status, 502)
  })

  test('a reload with another client certificate presents the new one (no stale pool)', async () => {
    const renewed = pem(
      await issue('gateway-client-2', 'ES256', pki.root, { altNames: ['gateway.test'] }),
    )
    let client = pki.client
    const reloading = await startGateway({
      config: async () => ({
        _format_version: '3.0',
        ca_certificates: [{ id: 'private-ca', cert: pki.caPem }],
        certificates: [{ id: 'gateway-client', ...client }],
        services: [
          {
            name: 'mtls',
            url: up.mtls!.url,
            ca_certificates: ['private-ca'],
            client_certificate: { id: 'gateway-client' },
            routes: [{ paths: ['/'] }],
          },
        ],
        plugins: [
          {
            name: 'kong-upstream-jwt',
            config: {
              private_key_location: signing.files.key,
              public_key_location: signing.files.chain,
              algorithm: 'ES256',
            },
          },
        ],
      }),
      listen: { host: '127.0.0.1', port: 0 },
      adminListen: false,
      logger: pino({ level: 'silent' }),
    })
    try {
      assert.equal((await send(`${reloading.url}/a`)).status, 200)
      assert.equal(up.mtls!.seen.at(-1)!.clientCert, 'gateway-client')
      client = renewed
      assert.equal(await reloading.reload(), true)
      assert.equal((await send(`${reloading.url}/b`)).status, 200)
      assert.equal(up.mtls!.seen.at(-1)!.clientCert, 'gateway-client-2')
    } finally {
      await reloading.close()
    }
  })
})
