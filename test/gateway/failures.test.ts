import assert from 'node:assert/strict'
import { pbkdf2 } from 'node:crypto'
import { once } from 'node:events'
import { connect, type Server } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { type Gateway, startGateway } from '../../src/gateway/gateway.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { capture, raw, rawUpstream, requestLine, signingPlugin } from '../helpers/gateway-io.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

async function counted(gateway: Gateway, route: string, status: number): Promise<number> {
  const text = await gateway.metrics.registry.metrics()
  const m = new RegExp(
    `kong_upstream_jwt_requests_total\\{service="[^"]*",route="${route}",status="${status}"\\} (\\d+)`,
  ).exec(text)
  return Number(m?.[1] ?? 0)
}

describe('failures reported as what they are', () => {
  let dir: string
  let pki: Pki
  let upstream: TestUpstream
  let stalls: { url: string; server: Server }
  let breaks: { url: string; server: Server }
  let gateway: Gateway
  const log = capture()
  const MAX = 1024 * 1024

  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    upstream = await startUpstream()
    // Sends its head and 3 of 100 body bytes, then nothing.
    stalls = await rawUpstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc'))
    // Sends its head and 3 of 100 body bytes, then closes.
    breaks = await rawUpstream((s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc')
      setTimeout(() => s.destroy(), 50)
    })
    const refused = await startUpstream()
    await refused.close()
    gateway = await startGateway({
      config: {
        _format_version: '3.0',
        services: [
          { name: 'ok', url: upstream.url, routes: [{ name: 'ok', paths: ['/ok'] }] },
          {
            name: 'stalls',
            url: stalls.url,
            read_timeout: 500,
            routes: [{ name: 'stalls', paths: ['/stalls'] }],
          },
          { name: 'breaks', url: breaks.url, routes: [{ name: 'breaks', paths: ['/breaks'] }] },
          {
            name: 'refused',
            url: refused.url,
            retries: 0,
            routes: [{ name: 'refused', paths: ['/refused'] }],
          },
          {
            name: 'nxdomain',
            url: 'http://no-such-host.invalid:8080',
            retries: 0,
            routes: [{ name: 'nxdomain', paths: ['/nxdomain'] }],
          },
        ],
        plugins: [signingPlugin(pki)],
      },
      listen: { host: '127.0.0.1', port: 0 },
      adminListen: false,
      clientMaxBodySize: MAX,
      logger: log.logger,
      env: {},
    })
  })
  after(async () => {
    await gateway?.close()
    await upstream?.close()
    for (const u of [stalls, breaks]) u?.server.close()
    await removeDir(dir)
  })

  test('an upstream that stalls after its head past read_timeout: logged at error level as 504, counted so', async () => {
    const answer = await raw(gateway.url, (s) =>
      s.write('GET /stalls/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'),
    )
    assert.match(answer.text, /^HTTP\/1\.1 200/, 'the head had been passed on')
    assert.ok(!answer.text.endsWith('a'.repeat(97)), 'the body was cut short')
    const line = await requestLine(log.lines, '/stalls/1')
    assert.equal(line.level, 50, 'error level')
    assert.equal(line.status, 504)
    assert.match(line.error ?? '', /ERR_UPSTREAM_TIMEOUT.*UND_ERR_BODY_TIMEOUT/)
    assert.equal(await counted(gateway, 'stalls', 504), 1)
    assert.equal(await counted(gateway, 'stalls', 499), 0)
  })

  test('an upstream that closes early: logged at error level as 502, counted so', async () => {
    const answer = await raw(gateway.url, (s) =>
      s.write('GET /breaks/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'),
    )
    assert.match(answer.text, /^HTTP\/1\.1 200/)
    const line = await requestLine(log.lines, '/breaks/1')
    assert.equal(line.level, 50)
    assert.equal(line.status, 502)
    assert.match(line.error ?? '', /ERR_UPSTREAM_UNREACHABLE/)
    assert.equal(line.upstream, new URL(breaks.url).host)
    assert.equal(await counted(gateway, 'breaks', 502), 1)
  })

  test('broken chunked framing: 400 on the wire and 400 in the log and the metrics', async () => {
    const seen = upstream.seen.length
    const answer = await raw(gateway.url, (s) =>
      s.write(
        'POST /ok/chunked HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n',
      ),
    )
    assert.match(answer.text, /^HTTP\/1\.1 400/)
    const line = await requestLine(log.lines, '/ok/chunked')
    assert.equal(line.status, 400)
    assert.equal(line.level, 30)
    assert.match(line.error ?? '', /HPE_INVALID_CHUNK_SIZE/)
    assert.equal(upstream.seen.length, seen, 'nothing forwarded')
    assert.equal(await counted(gateway, 'ok', 400), 1)
  })

  test('Expect: 100-continue with a Content-Length over the limit: 413 at once, no 100 (RFC 9110 §10.1.1)', async () => {
    const answer = await raw(gateway.url, (s) =>
      s.write(
        `POST /ok/expect HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: ${MAX + 1}\r\n\r\n`,
      ),
    )
    assert.match(answer.text, /^HTTP\/1\.1 413/)
    assert.doesNotMatch(answer.text, /100 Continue/)
  })

  test('Expect: 100-continue within the limit: 100, then the body is forwarded', async () => {
    const answer = await raw(gateway.url, (s) => {
      s.write(
        'POST /ok/expect-ok HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\nconnection: close\r\n\r\n',
      )
      s.once('data', () => s.write('hello'))
    })
    assert.match(answer.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/)
  })

  for (const [name, head] of [
    ['declared', `content-length: ${8 * MAX}`],
    ['chunked', 'transfer-encoding: chunked'],
  ] as const) {
    test(`413 to a client still uploading (${name}): it keeps sending and still reads the 413 (RFC 9112 §9.6)`, async () => {
      const chunk = Buffer.alloc(64 * 1024, 120)
      const answer = await raw(gateway.url, (s) => {
        s.write(`POST /ok/big-${name} HTTP/1.1\r\nhost: x\r\n${head}\r\n\r\n`)
        let sent = 0
        const more = () => {
          while (sent < 8 * MAX) {
            sent += chunk.length
            const piece =
              name === 'chunked' ? `${chunk.length.toString(16)}\r\n${chunk}\r\n` : chunk
            if (!s.write(piece)) return void s.once('drain', more)
          }
          if (name === 'chunked') s.write('0\r\n\r\n')
        }
        more()
      })
      assert.match(
        answer.text,
        /^HTTP\/1\.1 413/,
        `the 413 arrived (socket error: ${answer.error})`,
      )
      assert.equal(answer.error, undefined, 'no reset')
    })
  }

  test('upstream connection failures are logged with host:port and the cause', async () => {
    assert.equal((await fetch(`${gateway.url}/refused/1`)).status, 502)
    const refused = await requestLine(log.lines, '/refused/1')
    assert.equal(refused.level, 50)
    assert.match(refused.error ?? '', /ECONNREFUSED from 127\.0\.0\.1:\d+/)
    const nx = await fetch(`${gateway.url}/nxdomain/1`)
    assert.equal(nx.status, 502)
    const body = (await nx.json()) as { message: string }
    assert.doesNotMatch(body.message, /no-such-host/, 'the client is not told the address')
    const line = await requestLine(log.lines, '/nxdomain/1')
    assert.match(line.error ?? '', /ENOTFOUND from no-such-host\.invalid:8080/)
    assert.equal(line.upstream, 'no-such-host.invalid:8080')
  })

  test('a client that goes away is still 499 at info level', async () => {
    upstream.delay = 300
    try {
      const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1')
      await once(socket, 'connect')
      socket.write('GET /ok/gone HTTP/1.1\r\nhost: x\r\n\r\n')
      await new Promise((r) => setTimeout(r, 100))
      socket.destroy()
      const line = await requestLine(log.lines, '/ok/gone')
      assert.equal(line.status, 499)
      assert.equal(line.level, 30)
    } finally {
      upstream.delay = 0
    }
  })
})

describe('a client that leaves while its request is signed', () => {
  let dir: string
  let pki: Pki
  let upstream: TestUpstream
  let gateway: Gateway
  const log = capture()

  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    upstream = await startUpstream()
    gateway = await startGateway({
      config: {
        _format_version: '3.0',
        services: [{ name: 'ok', url: upstream.url, routes: [{ name: 'ok', paths: ['/ok'] }] }],
        plugins: [signingPlugin(pki)],
      },
      listen: { host: '127.0.0.1', port: 0 },
      adminListen: false,
      logger: log.logger,
      env: {},
      // On libuv's pool, which the test holds busy, so the client is gone before the token is.
      signOn: 'pool',
    })
  })
  after(async () => {
    await gateway?.close()
    await upstream?.close()
    await removeDir(dir)
  })

  test('is not forwarded (499), and holds no upstream connection: close() does not wait on one', async () => {
    // Every pool thread busy for a while: the signature queues behind these jobs.
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4)
    const busy = Array.from(
      { length: threads },
      () =>
        new Promise((resolve, reject) =>
          pbkdf2('x', 'salt', 400_000, 32, 'sha256', (err) => (err ? reject(err) : resolve(null))),
        ),
    )
    const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1')
    await once(socket, 'connect')
    socket.end('GET /ok/left HTTP/1.1\r\nhost: x\r\n\r\n')
    socket.on('data', () => {}).on('error', () => {})
    const line = await requestLine(log.lines, '/ok/left')
    assert.equal(line.status, 499)
    await Promise.all(busy)
    // The signature has come back by now; nothing may reach the upstream for a client gone.
    await new Promise((r) => setTimeout(r, 200))
    assert.deepEqual(
      upstream.seen.filter((s) => s.url.includes('left')),
      [],
      'forwarded for a client that had left',
    )
    const started = Date.now()
    await gateway.close()
    assert.ok(Date.now() - started < 2000, `close() took ${Date.now() - started} ms`)
  })
})
