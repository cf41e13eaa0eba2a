import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer as createHttpServer, type Server as HttpServer, request } from 'node:http'
import type { AddressInfo, Server } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { hopByHop } from '../../src/gateway/forwarding.js'
import { type Gateway, startGateway } from '../../src/gateway/gateway.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { capture, rawUpstream, requestLine, signingPlugin } from '../helpers/gateway-io.js'

const BIG = 8 * 1024 * 1024

/** GET through the gateway; resolves status, raw headers, interim statuses seen and the body. */
function get(
  url: string,
  onResponse?: (res: import('node:http').IncomingMessage) => void,
): Promise<{ status: number; rawHeaders: string[]; interim: number[]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const interim: number[] = []
    const req = request(url, (res) => {
      onResponse?.(res)
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          rawHeaders: res.rawHeaders,
          interim,
          body: Buffer.concat(chunks),
        }),
      )
      res.on('error', reject)
    })
    req.on('information', (info) => interim.push(info.statusCode))
    req.on('error', reject)
    req.end()
  })
}

describe('forwarding: the upstream response as the client gets it', () => {
  let dir: string
  let pki: Pki
  let gateway: Gateway
  let interim: { url: string; server: Server }
  let hop: { url: string; server: Server }
  let big: HttpServer
  let endless: HttpServer
  let endlessClosed: Promise<void>
  const bigBody = Buffer.alloc(BIG)
  const log = capture()

  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    for (let i = 0; i < BIG; i += 4) bigBody.writeUInt32BE((i * 2654435761) >>> 0, i)
    // 103 Early Hints, then the final answer (RFC 8297).
    interim = await rawUpstream((s) =>
      s.write(
        'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n' +
          'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
      ),
    )
    // Hop-by-hop fields, one named by Connection, repeated fields and a latin1 byte.
    hop = await rawUpstream((s) =>
      s.write(
        Buffer.concat([
          Buffer.from(
            'HTTP/1.1 200 OK\r\nConnection: x-private\r\nConnection: keep-alive, X-Other\r\n' +
              'X-Private: secret\r\nx-other: 1\r\nProxy-Connection: keep-alive\r\nTrailer: x-t\r\n' +
              'Upgrade: h2c\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Latin: caf',
          ),
          Buffer.from([0xe9]),
          Buffer.from('\r\nX-Kept: yes\r\ncontent-length: 2\r\n\r\nok'),
        ]),
      ),
    )
    big = createHttpServer((req, res) => {
      req.resume()
      res.writeHead(200, { 'content-length': BIG })
      let at = 0
      const write = () => {
        while (at < BIG) {
          const chunk = bigBody.subarray(at, at + 65536)
          at += chunk.length
          if (!res.write(chunk)) return void res.once('drain', write)
        }
        res.end()
      }
      write()
    })
    let closed: () => void
    endlessClosed = new Promise((r) => {
      closed = r
    })
    endless = createHttpServer((req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'text/plain' })
      const timer = setInterval(() => res.write('tick\n'), 10)
      res.on('close', () => {
        clearInterval(timer)
        closed()
      })
    })
    for (const s of [big, endless]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    const url = (s: HttpServer) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`
    gateway = await startGateway({
      config: {
        _format_version: '3.0',
        services: [
          { name: 'interim', url: interim.url, routes: [{ name: 'interim', paths: ['/interim'] }] },
          { name: 'hop', url: hop.url, routes: [{ name: 'hop', paths: ['/hop'] }] },
          { name: 'big', url: url(big), routes: [{ name: 'big', paths: ['/big'] }] },
          {
            name: 'endless',
            url: url(endless),
            routes: [{ name: 'endless', paths: ['/endless'] }],
          },
        ],
        plugins: [signingPlugin(pki)],
      },
      listen: { host: '127.0.0.1', port: 0 },
      adminListen: false,
      logger: log.logger,
      env: {},
    })
  })
  after(async () => {
    await gateway?.close()
    for (const s of [interim?.server, hop?.server, big, endless]) s?.close()
    await removeDir(dir)
  })

  test('a 1xx interim answer ends at the gateway; the final one is passed on', async () => {
    const res = await get(`${gateway.url}/interim`)
    assert.equal(res.status, 200)
    assert.equal(res.body.toString(), 'ok')
    assert.deepEqual(res.interim, [])
  })

  test('hop-by-hop fields (also those Connection names) are dropped; repeats and bytes kept', async () => {
    const res = await get(`${gateway.url}/hop`)
    assert.equal(res.status, 200)
    const names = res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
    for (const gone of ['x-private', 'x-other', 'proxy-connection', 'trailer', 'upgrade'])
      assert.ok(!names.includes(gone), `${gone} reached the client`)
    const values = (name: string) =>
      res.rawHeaders.filter((_, i) => i % 2 === 1 && res.rawHeaders[i - 1]!.toLowerCase() === name)
    assert.deepEqual(values('set-cookie'), ['a=1', 'b=2'])
    assert.deepEqual(values('x-kept'), ['yes'])
    // node decodes header bytes as latin1: 0xe9 arrives as é, byte for byte.
    assert.deepEqual(values('x-latin'), ['caf\u00e9'])
    assert.deepEqual(values('content-length'), ['2'])
  })

  test('a large response to a client that reads slowly arrives whole (backpressure)', async () => {
    const res = await get(`${gateway.url}/big`, (r) => {
      // Read in bursts: pause for a while after every megabyte.
      let seen = 0
      r.on('data', (c: Buffer) => {
        seen += c.length
        if (seen >= 1024 * 1024) {
          seen = 0
          r.pause()
          setTimeout(() => r.resume(), 30)
        }
      })
    })
    assert.equal(res.status, 200)
    assert.equal(res.body.length, BIG)
    assert.equal(
      createHash('sha256').update(res.body).digest('hex'),
      createHash('sha256').update(bigBody).digest('hex'),
    )
  })

  test('a client that leaves mid-response: the upstream request is stopped, logged as 499', async () => {
    const req = request(`${gateway.url}/endless`)
    req.on('error', () => {})
    req.end()
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage]
    assert.equal(res.statusCode, 200)
    await once(res, 'data')
    req.destroy()
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('the upstream response was never stopped')), 5000).unref(),
    )
    await Promise.race([endlessClosed, timeout])
    const line = await requestLine(log.lines, '/endless')
    assert.equal(line.status, 499)
    assert.equal(line.level, 30)
  })
})

test('hopByHop: the standard fields, plus what Connection names (any case, listed or repeated)', () => {
  const standard = hopByHop(undefined)
  assert.ok(standard.has('transfer-encoding') && standard.has('keep-alive'))
  assert.equal(hopByHop('Keep-Alive'), standard, 'keep-alive alone names nothing new')
  const named = hopByHop('keep-alive, X-Private')
  assert.ok(named.has('x-private') && named.has('upgrade'))
  assert.ok(!standard.has('x-private'), 'the shared set is not changed')
  assert.ok(hopByHop(['close', ' X-Other ']).has('x-other'))
})
