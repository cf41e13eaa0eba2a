import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { importX509, jwtVerify } from 'jose'
import { parseConfig } from '../../src/gateway/config.js'
import { Exchange } from '../../src/gateway/exchange.js'
import { GatewayMetrics } from '../../src/gateway/metrics.js'
import { buildRuntime, type Runtime } from '../../src/gateway/runtime.js'
import { authenticate } from '../../src/gateway/steps/authenticate.js'
import { route } from '../../src/gateway/steps/route.js'
import { sign } from '../../src/gateway/steps/sign.js'
import { takeInBody } from '../../src/gateway/steps/take-in-body.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { signingPlugin } from '../helpers/gateway-io.js'

/**
 * Each step alone, on real requests: a real server hands each request to `step`, which runs one
 * or more steps on an Exchange and reports what they left on it.
 */
describe('gateway steps, each on its own', () => {
  let dir: string
  let pki: Pki
  let runtime: Runtime
  let server: Server
  let url: string
  let step: (x: Exchange, res: ServerResponse) => void

  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    runtime = await buildRuntime(
      parseConfig({
        _format_version: '3.0',
        services: [
          {
            name: 'orders',
            url: 'http://orders.internal:8080/v1',
            routes: [
              { name: 'api', paths: ['/api'] },
              {
                name: 'private',
                paths: ['/private'],
                plugins: [{ name: 'key-auth', config: { hide_credentials: true } }],
              },
            ],
          },
        ],
        consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'alice-key' }] }],
        plugins: [signingPlugin(pki, { issuer: 'gw' })],
      }),
      { env: {} },
    )
    server = createServer((req: IncomingMessage, res: ServerResponse) =>
      step(new Exchange(runtime, req, res), res),
    )
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server?.closeAllConnections()
    await new Promise((r) => server?.close(r))
    runtime?.close()
    await removeDir(dir)
  })

  const send = (
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${url}${path}`,
        { method: init.method ?? 'GET', headers: init.headers },
        (res) => {
          let body = ''
          res.on('data', (d) => (body += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        },
      )
      req.on('error', reject)
      req.end(init.body)
    })
  const report = (res: ServerResponse, value: unknown) => {
    if (!res.headersSent) res.end(JSON.stringify(value))
  }

  test('route: the matching route and the upstream path; 404 without one', async () => {
    step = (x, res) =>
      report(res, route(x) && { route: x.routeName, upstreamPath: x.match?.upstreamPath })
    const ok = await send('/api/orders/7?a=1')
    assert.deepEqual(JSON.parse(ok.body), { route: 'api', upstreamPath: '/v1/orders/7' })
    const none = await send('/elsewhere')
    assert.equal(none.status, 404)
  })

  test('authenticate: a known key names the consumer and is hidden; none or a wrong one is 401', async () => {
    step = (x, res) =>
      report(res, route(x) && authenticate(x) && { consumer: x.consumerName, drop: x.drop })
    const ok = await send('/private/x', { headers: { apikey: 'alice-key' } })
    assert.deepEqual(JSON.parse(ok.body), { consumer: 'alice', drop: ['apikey'] })
    assert.equal((await send('/private/x')).status, 401)
    assert.equal((await send('/private/x', { headers: { apikey: 'nope' } })).status, 401)
    assert.equal(JSON.parse((await send('/api/x')).body).consumer, undefined, 'no key-auth on /api')
  })

  test('take in the body: its digest and exactly its bytes, within the limit; 413 beyond', async () => {
    step = (x, res) =>
      takeInBody(x, { bufferSize: 16, maxSize: 64, tmpDir: dir }, (x, err) => {
        if (err) return report(res, { error: (err as { code?: string }).code })
        const file = x.body?.file
        void x.body?.dispose().then(() =>
          report(res, {
            size: x.body?.digest.size,
            sha256: x.body?.digest.sha256,
            spooled: file !== undefined,
          }),
        )
      })
    const small = 'hello'
    assert.deepEqual(JSON.parse((await send('/', { method: 'POST', body: small })).body), {
      size: 5,
      sha256: createHash('sha256').update(small).digest('hex'),
      spooled: false,
    })
    const spilled = 'x'.repeat(40)
    const r = JSON.parse((await send('/', { method: 'POST', body: spilled })).body)
    assert.equal(r.sha256, createHash('sha256').update(spilled).digest('hex'))
    assert.equal(r.spooled, true, 'over the buffer size: spooled')
    const big = await send('/', { method: 'POST', body: 'y'.repeat(100) })
    assert.equal(JSON.parse(big.body).error, 'ERR_BODY_TOO_LARGE')
  })

  test('take in the body: spooled in 1 MiB batches; over the limit after spilling, 413 and no temp file', async () => {
    const limits = { bufferSize: 16, maxSize: 3 * 2 ** 20, tmpDir: dir }
    step = (x, res) =>
      takeInBody(x, limits, (x, err) => {
        if (err) return report(res, { error: (err as { code?: string }).code })
        const file = x.body!.file!
        const replayed = createHash('sha256')
        x.body!.stream()
          .on('data', (chunk: Buffer) => replayed.update(chunk))
          .on('end', () => {
            const sha256 = replayed.digest('hex')
            void x.body!.dispose().then(() =>
              report(res, {
                size: x.body!.digest.size,
                sha256,
                digest: x.body!.digest.sha256,
                file,
              }),
            )
          })
      })
    // Chunked, in pieces that arrive apart: the first spills over the buffer, the rest are
    // taken in by the spooling reader across several write batches.
    const upload = (pieces: Buffer[]) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${url}/`, {
          method: 'POST',
          headers: { 'transfer-encoding': 'chunked' },
        })
        req.on('response', (res) => {
          let body = ''
          res.on('data', (d) => (body += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        })
        req.on('error', reject)
        const next = (i: number) => {
          if (i === pieces.length) return void req.end()
          req.write(pieces[i], () => setTimeout(() => next(i + 1), 5))
        }
        next(0)
      })
    const pieces = [
      Buffer.alloc(20, 1),
      ...Array.from({ length: 10 }, (_, i) => Buffer.alloc(256 * 1024, i)),
    ]
    const whole = createHash('sha256')
    for (const piece of pieces) whole.update(piece)
    const r = JSON.parse((await upload(pieces)).body)
    assert.equal(r.size, 20 + 10 * 256 * 1024)
    assert.equal(typeof r.file, 'string', 'over the buffer: spooled to a file')
    assert.equal(r.digest, whole.digest('hex'), 'the digest is of every byte')
    assert.equal(r.sha256, r.digest, 'the spooled file replays exactly the hashed bytes')
    const leftovers = async () =>
      (await readdir(dir)).filter((name) => name.startsWith('kong-upstream-jwt-'))
    assert.deepEqual(await leftovers(), [], 'disposed')

    const over = [Buffer.alloc(20), ...Array.from({ length: 16 }, () => Buffer.alloc(256 * 1024))]
    assert.equal(JSON.parse((await upload(over)).body).error, 'ERR_BODY_TOO_LARGE')
    assert.deepEqual(await leftovers(), [], 'the temp file of a refused body is removed')
  })

  test('take in the body: none by its framing is done at once; a GET with a body is still read', async () => {
    step = (x, res) => {
      let synchronous = true
      takeInBody(x, { bufferSize: 1024, maxSize: 0 }, (x, err) =>
        report(res, {
          synchronous,
          size: x.body?.digest.size,
          sha256: x.body?.digest.sha256,
          err: err?.message,
        }),
      )
      synchronous = false
    }
    const read = async (method: string, headers: Record<string, string>, body?: string) =>
      JSON.parse((await send('/api', { method, headers, body })).body)
    const empty = createHash('sha256').digest('hex')
    assert.deepEqual(await read('GET', {}), { synchronous: true, size: 0, sha256: empty })
    assert.deepEqual(await read('POST', { 'content-length': '0' }), {
      synchronous: true,
      size: 0,
      sha256: empty,
    })
    assert.deepEqual(await read('GET', { 'content-length': '3' }, 'abc'), {
      synchronous: false,
      size: 3,
      sha256: createHash('sha256').update('abc').digest('hex'),
    })
    assert.deepEqual(
      await read('POST', { 'transfer-encoding': 'chunked' }),
      { synchronous: false, size: 0, sha256: empty },
      'chunked framing: read to its end, even when it turns out empty',
    )
  })

  test('sign: a token over the request as forwarded, with the body digest', async () => {
    const metrics = new GatewayMetrics()
    step = (x, res) => {
      route(x)
      takeInBody(x, { bufferSize: 1024, maxSize: 0 }, (x) =>
        sign(x, metrics, (x, err) => report(res, { token: x.token?.token, err: err?.message })),
      )
    }
    const body = '{"id":1}'
    const { token } = JSON.parse((await send('/api/orders', { method: 'POST', body })).body)
    const key = await importX509(pki.leaf.cert.toString(), 'ES256')
    const { payload } = await jwtVerify(token, key, { issuer: 'gw' })
    assert.equal(payload.payloadhash, createHash('sha256').update(body).digest('hex'))
    assert.equal(payload.aud, 'orders')
  })
})
