import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { importX509, jwtVerify } from 'jose'
import { pino } from 'pino'
import { type Gateway, type GatewayOptions, startGateway } from '../../src/gateway/gateway.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

/** Spooled bodies are removed as the request ends, which may be just after the client has its answer. */
async function noTempFiles(dir: string): Promise<void> {
  for (let i = 0; i < 50 && (await readdir(dir)).length > 0; i++)
    await new Promise((r) => setTimeout(r, 20))
  assert.deepEqual(await readdir(dir), [], 'no temp file left')
}

/** A GET with headers fetch() may not set (Host). */
function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}
const silent = pino({ level: 'silent' })
const BUFFER = 64 * 1024

describe('gateway (real upstream, real HTTP clients)', () => {
  let dir: string
  let spool: string
  let pki: Pki
  let upstream: TestUpstream
  let gateway: Gateway
  const signing = () => ({
    private_key_location: pki.files.key,
    public_key_location: pki.files.chain,
    algorithm: 'ES256',
    issuer: 'gw',
  })
  const config = (extra: Record<string, unknown> = {}) => ({
    _format_version: '3.0',
    services: [
      {
        name: 'orders',
        url: `${upstream.url}/base`,
        routes: [
          { name: 'api', paths: ['/api'] },
          { name: 'keep', paths: ['/keep'], strip_path: false, preserve_host: true },
          { name: 'regex', paths: ['~/items/\\d+$'], methods: ['GET'] },
          {
            name: 'private',
            paths: ['/private'],
            plugins: [{ name: 'key-auth', config: { hide_credentials: true } }],
          },
        ],
      },
    ],
    consumers: [
      { username: 'alice', custom_id: 'ext-1', keyauth_credentials: [{ key: 'alice-key' }] },
    ],
    plugins: [{ name: 'kong-upstream-jwt', config: signing() }],
    ...extra,
  })
  const start = (options: Partial<GatewayOptions> = {}) =>
    startGateway({
      config: config(),
      listen: { host: '127.0.0.1', port: 0 },
      adminListen: { host: '127.0.0.1', port: 0 },
      clientBodyBufferSize: BUFFER,
      tmpDir: spool,
      logger: silent,
      env: {},
      ...options,
    })

  async function claimsOf(token: string | string[] | undefined) {
    assert.equal(typeof token, 'string', 'exactly one token header')
    const key = await importX509(pki.leaf.cert.toString(), 'ES256')
    return (await jwtVerify(token as string, key, { issuer: 'gw' })).payload
  }

  after(async () => {
    await gateway?.close()
    await upstream?.close()
    await removeDir(dir)
  })
  before(async () => {
    dir = await makeTempDir()
    spool = join(dir, 'spool')
    await mkdir(spool)
    pki = await makePki(dir)
    upstream = await startUpstream()
    gateway = await start()
  })

  for (const [name, size] of [
    ['0 B', 0],
    ['1 B', 1],
    ['exactly the buffer size', BUFFER],
    ['one byte over the buffer size (spooled)', BUFFER + 1],
  ] as const) {
    test(`body of ${name}: the upstream's own SHA-256 equals the signed payloadhash`, async () => {
      const body = randomBytes(size)
      const res = await fetch(`${gateway.url}/api/orders`, { method: 'POST', body })
      assert.equal(res.status, 200)
      const seen = upstream.seen.at(-1)!
      assert.equal(seen.size, size)
      assert.equal(seen.sha256, sha256(body))
      const claims = await claimsOf(seen.headers.jwt)
      assert.equal(claims.payloadhash, size === 0 ? '' : sha256(body))
      await noTempFiles(spool)
    })
  }

  test('a chunked body of 50 MiB is spooled, hashed and forwarded exactly', async () => {
    const chunk = randomBytes(1024 * 1024)
    const hash = createHash('sha256')
    for (let i = 0; i < 50; i++) hash.update(chunk)
    const spooledBefore = (await (await fetch(`${gateway.adminUrl}/metrics`)).text()).match(
      /bodies_spooled_total (\d+)/,
    )?.[1]
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 50; i++) yield chunk
      })(),
    )
    const res = await fetch(`${gateway.url}/api/upload`, {
      method: 'PUT',
      body: body as never,
      duplex: 'half',
    } as RequestInit)
    assert.equal(res.status, 200)
    const seen = upstream.seen.at(-1)!
    assert.equal(seen.size, 50 * 1024 * 1024)
    assert.equal(seen.sha256, hash.digest('hex'))
    assert.equal((await claimsOf(seen.headers.jwt)).payloadhash, seen.sha256)
    assert.equal(seen.headers['content-length'], String(50 * 1024 * 1024))
    const spooledAfter = (await (await fetch(`${gateway.adminUrl}/metrics`)).text()).match(
      /bodies_spooled_total (\d+)/,
    )?.[1]
    assert.equal(Number(spooledAfter), Number(spooledBefore) + 1)
    await noTempFiles(spool)
  })

  test('a client-supplied JWT header never reaches the upstream; hop-by-hop headers are dropped', async () => {
    const res = await fetch(`${gateway.url}/api/x`, {
      headers: {
        JWT: 'forged.token.value',
        'x-custom': 'kept',
        'proxy-connection': 'x',
        te: 'trailers',
      },
    })
    assert.equal(res.status, 200)
    const seen = upstream.seen.at(-1)!
    assert.equal(seen.rawHeaders.filter((h) => h.toLowerCase() === 'jwt').length, 1)
    assert.notEqual(seen.headers.jwt, 'forged.token.value')
    await claimsOf(seen.headers.jwt)
    assert.equal(seen.headers['x-custom'], 'kept')
    assert.equal(seen.headers['proxy-connection'], undefined)
    assert.equal(seen.headers.te, undefined)
  })

  test('signature_mode jwt: a client-supplied Signature, Signature-Input, Content-Digest never reach the upstream', async () => {
    const res = await fetch(`${gateway.url}/api/x`, {
      headers: {
        Signature: 'sig1=:AAAA:',
        'Signature-Input': 'sig1=("@method");created=1;keyid="x"',
        'Content-Digest': 'sha-256=:AAAA:',
      },
    })
    assert.equal(res.status, 200)
    const seen = upstream.seen.at(-1)!
    await claimsOf(seen.headers.jwt)
    assert.equal(seen.headers.signature, undefined)
    assert.equal(seen.headers['signature-input'], undefined)
    assert.equal(seen.headers['content-digest'], undefined)
  })

  test('X-Forwarded-* and Host as Kong sets them; strip_path and the service path', async () => {
    await get(`${gateway.url}/api/a/b?q=1`, {
      host: 'edge.example.com:9999',
      'x-forwarded-for': '10.0.0.1',
    })
    const seen = upstream.seen.at(-1)!
    assert.equal(seen.url, '/base/a/b?q=1')
    assert.equal(seen.headers.host, `127.0.0.1:${upstream.port}`)
    assert.equal(seen.headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1')
    assert.equal(seen.headers['x-forwarded-proto'], 'http')
    assert.equal(seen.headers['x-forwarded-host'], 'edge.example.com')
    assert.equal(seen.headers['x-forwarded-path'], '/api/a/b')
    assert.equal(seen.headers['x-real-ip'], '127.0.0.1')
    const claims = await claimsOf(seen.headers.jwt)
    assert.equal(claims.aud, 'orders')
  })

  test("a client's own X-Forwarded-*, X-Real-IP and Host are replaced, never passed beside ours", async () => {
    await get(`${gateway.url}/api/x`, {
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-port': '1',
      'x-forwarded-path': '/elsewhere',
      'x-real-ip': '6.6.6.6',
      'x-custom': 'kept',
    })
    const raw = upstream.seen.at(-1)!.rawHeaders
    const values = (name: string) =>
      raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === name)
    assert.deepEqual(values('x-forwarded-proto'), ['http'])
    assert.deepEqual(values('x-forwarded-host'), ['127.0.0.1'])
    assert.deepEqual(values('x-forwarded-port'), [String(new URL(gateway.url).port)])
    assert.deepEqual(values('x-forwarded-path'), ['/api/x'])
    assert.deepEqual(values('x-real-ip'), ['127.0.0.1'])
    assert.deepEqual(values('host'), [`127.0.0.1:${upstream.port}`])
    assert.deepEqual(values('x-custom'), ['kept'])
  })

  test('preserve_host and strip_path false; regex and method routes; 404 without a route', async () => {
    await get(`${gateway.url}/keep/x`, { host: 'client.example' })
    assert.equal(upstream.seen.at(-1)?.url, '/base/keep/x')
    assert.equal(upstream.seen.at(-1)?.headers.host, 'client.example')
    assert.equal((await fetch(`${gateway.url}/items/42`)).status, 200)
    assert.equal(upstream.seen.at(-1)?.url, '/base')
    const count = upstream.seen.length
    const post = await fetch(`${gateway.url}/items/42`, { method: 'POST' })
    assert.equal(post.status, 404)
    assert.deepEqual(await post.json(), { message: 'no Route matched with those values' })
    assert.equal(upstream.seen.length, count)
  })

  test('key-auth: the consumer goes into the claims; missing or wrong keys get 401; credentials hidden', async () => {
    const ok = await fetch(`${gateway.url}/private/me?apikey=alice-key&x=1`)
    assert.equal(ok.status, 200)
    const seen = upstream.seen.at(-1)!
    assert.equal(seen.url, '/base/me?x=1', 'the key is removed from the query')
    const claims = await claimsOf(seen.headers.jwt)
    assert.equal(claims.consumername, 'alice')
    assert.match(String(claims.consumerid), /^[0-9a-f-]{36}$/)
    await fetch(`${gateway.url}/private/me`, { headers: { apikey: 'alice-key' } })
    assert.equal(upstream.seen.at(-1)?.headers.apikey, undefined, 'the key header is removed')
    const count = upstream.seen.length
    const missing = await fetch(`${gateway.url}/private/me`)
    assert.equal(missing.status, 401)
    assert.deepEqual(await missing.json(), { message: 'No API key found in request' })
    const wrong = await fetch(`${gateway.url}/private/me`, { headers: { apikey: 'nope' } })
    assert.equal(wrong.status, 401)
    assert.deepEqual(await wrong.json(), { message: 'Invalid authentication credentials' })
    assert.equal(upstream.seen.length, count, 'refused requests are not forwarded')
  })

  test('a client that aborts mid-body: nothing forwarded, no temp file left', async () => {
    const count = upstream.seen.length
    const { port } = new URL(gateway.url)
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/abort',
        headers: { 'content-length': String(4 * BUFFER) },
      })
      req.on('error', () => resolve())
      req.write(randomBytes(2 * BUFFER), () => {
        setTimeout(() => {
          req.destroy()
          resolve()
        }, 100)
      })
    })
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(upstream.seen.length, count)
    assert.deepEqual(await readdir(spool), [])
  })

  test('body over client_max_body_size: 413 before anything is forwarded (declared and chunked)', async (t) => {
    const small = await start({ clientMaxBodySize: 1000 })
    t.after(() => small.close())
    const count = upstream.seen.length
    const declared = await fetch(`${small.url}/api/x`, { method: 'POST', body: randomBytes(2000) })
    assert.equal(declared.status, 413)
    assert.equal(((await declared.json()) as { code: string }).code, 'ERR_BODY_TOO_LARGE')
    const chunked = await fetch(`${small.url}/api/x`, {
      method: 'POST',
      body: Readable.from([randomBytes(600), randomBytes(600)]) as never,
      duplex: 'half',
    } as RequestInit)
    assert.equal(chunked.status, 413)
    assert.equal(upstream.seen.length, count)
    assert.deepEqual(await readdir(spool), [])
  })

  test('upstream down: 502; slow upstream: 504', async (t) => {
    const down = await startUpstream()
    await down.close()
    const g = await start({
      config: {
        _format_version: '3.0',
        services: [
          { name: 'down', url: down.url, retries: 1, routes: [{ paths: ['/down'] }] },
          { name: 'slow', url: upstream.url, read_timeout: 100, routes: [{ paths: ['/slow'] }] },
        ],
        plugins: [{ name: 'kong-upstream-jwt', config: signing() }],
      },
    })
    t.after(() => g.close())
    const bad = await fetch(`${g.url}/down`)
    assert.equal(bad.status, 502)
    assert.equal(((await bad.json()) as { code: string }).code, 'ERR_UPSTREAM_UNREACHABLE')
    // undici checks read timeouts on a timer of about 1 s resolution, hence the long delay.
    upstream.delay = 3000
    try {
      const slow = await fetch(`${g.url}/slow`)
      assert.equal(slow.status, 504)
      assert.equal(((await slow.json()) as { code: string }).code, 'ERR_UPSTREAM_TIMEOUT')
    } finally {
      upstream.delay = 0
    }
  })

  test('an expired signing certificate: 500, never forwarded unsigned', async (t) => {
    const { issue, writeChain } = await import('../../testing/pki.js')
    const shortLived = await issue('short', 'ES256', pki.intermediate, {
      notAfter: new Date(Date.now() + 1500),
    })
    const files = await writeChain(dir, 'short', shortLived, pki.intermediate)
    const g = await start({
      config: config({
        plugins: [
          {
            name: 'kong-upstream-jwt',
            config: {
              private_key_location: files.key,
              public_key_location: files.chain,
              algorithm: 'ES256',
            },
          },
        ],
      }),
    })
    t.after(() => g.close())
    await new Promise((r) => setTimeout(r, 2100))
    const count = upstream.seen.length
    const res = await fetch(`${g.url}/api/x`, { method: 'POST', body: 'x' })
    assert.equal(res.status, 500)
    assert.deepEqual(await res.json(), {
      message: 'An unexpected error occurred',
      code: 'ERR_SIGNING_CERT_EXPIRED',
    })
    assert.equal(upstream.seen.length, count)
    assert.match(
      await (await fetch(`${g.adminUrl}/metrics`)).text(),
      /kong_upstream_jwt_signing_errors_total 1/,
    )
  })

  test('admin: status, Prometheus metrics and the JWKS', async () => {
    const status = (await (await fetch(`${gateway.adminUrl}/status`)).json()) as {
      status: string
      config: { routes: number }
    }
    assert.equal(status.status, 'ok')
    assert.equal(status.config.routes, 4)
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text()
    assert.match(
      metrics,
      /kong_upstream_jwt_requests_total\{service="orders",route="api",status="200"\} \d+/,
    )
    assert.match(metrics, /kong_upstream_jwt_signing_duration_seconds_bucket/)
    assert.match(metrics, /kong_upstream_jwt_body_bytes_hashed_total \d+/)
    const jwks = (await (await fetch(`${gateway.adminUrl}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, unknown[] | string | undefined>[]
    }
    assert.equal(jwks.keys.length, 1)
    assert.equal(jwks.keys[0]?.crv, 'P-256')
    assert.equal(jwks.keys[0]?.x5c?.length, 2)
    assert.equal(jwks.keys[0]?.d, undefined)
    assert.equal((await fetch(`${gateway.adminUrl}/nope`)).status, 404)
  })

  test('reload: a broken configuration is refused and the running one kept; a good one replaces it', async (t) => {
    const file = join(dir, 'kong.yml')
    await writeFile(file, JSON.stringify(config()))
    const g = await start({ config: file, watch: false })
    t.after(() => g.close())
    assert.equal((await fetch(`${g.url}/api/x`)).status, 200)
    await writeFile(file, '_format_version: "3.0"\nservices: [ {name: broken')
    assert.equal(await g.reload(), false)
    assert.equal((await fetch(`${g.url}/api/x`)).status, 200)
    await writeFile(
      file,
      JSON.stringify(
        config({
          plugins: [
            {
              name: 'kong-upstream-jwt',
              config: { ...signing(), private_key_location: join(dir, 'missing.pem') },
            },
          ],
        }),
      ),
    )
    assert.equal(await g.reload(), false, 'a missing key refuses the configuration')
    assert.equal((await fetch(`${g.url}/api/x`)).status, 200)
    const next = config()
    ;(next.services[0] as { routes: unknown[] }).routes = [{ name: 'v2', paths: ['/v2'] }]
    await writeFile(file, JSON.stringify(next))
    assert.equal(await g.reload(), true)
    assert.equal((await fetch(`${g.url}/api/x`)).status, 404)
    assert.equal((await fetch(`${g.url}/v2/x`)).status, 200)
  })

  test('close() drains in-flight requests, then stops accepting', async () => {
    const g = await start()
    upstream.delay = 300
    try {
      const inflight = fetch(`${g.url}/api/slow`, { method: 'POST', body: 'x' })
      await new Promise((r) => setTimeout(r, 100))
      const closing = g.close()
      const res = await inflight
      assert.equal(res.status, 200)
      await closing
      await assert.rejects(fetch(`${g.url}/api/x`))
    } finally {
      upstream.delay = 0
    }
  })
})
