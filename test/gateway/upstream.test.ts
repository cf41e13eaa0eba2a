import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import type { Server, Socket } from 'node:net'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { parseConfig } from '../../src/gateway/config.js'
import { Upstreams } from '../../src/gateway/upstream.js'
import { rawUpstream } from '../helpers/gateway-io.js'

const BODY = Buffer.alloc(64 * 1024, 0x61)

/**
 * A client response that takes its bytes slowly: every write reports backpressure, so undici
 * pauses its parser on each chunk, also on the last one.
 */
function slowClient(): { out: Writable; received: () => number } {
  let received = 0
  const out = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, done) {
      received += chunk.length
      setTimeout(done, 50)
    },
  })
  return { out, received: () => received }
}

/** Sends GET / to `url` through Upstreams; resolves what the reply saw. */
function send(
  upstreams: Upstreams,
  url: string,
): Promise<{ status: number; err: Error | undefined; received: number }> {
  const service = parseConfig({
    _format_version: '3.0',
    services: [{ name: 'closing', url, read_timeout: 5000 }],
  }).services[0]!
  const client = slowClient()
  return new Promise((resolve) => {
    let status = 0
    upstreams.send(
      service,
      { method: 'GET', path: '/', headers: ['host', 'upstream'] },
      () => null,
      {
        head(statusCode) {
          status = statusCode
          return client.out as unknown as ServerResponse
        },
        done(err) {
          resolve({ status, err, received: client.received() })
        },
      },
    )
  })
}

// undici 7 asserts that its HTTP/1 parser is not paused when the upstream closes the
// connection (nodejs/undici#5360, fixed in undici 8, which needs Node 22.19): a response that
// ends the connection, read by a client slower than the upstream, threw an AssertionError no
// handler can catch, and the gateway process died with every request in it.
describe('upstream: a response that closes its connection, to a client that reads slowly', () => {
  const upstreams = new Upstreams()
  const servers: Server[] = []
  const upstream = async (answer: (socket: Socket) => void) => {
    const { url, server } = await rawUpstream(answer)
    servers.push(server)
    return url
  }
  let lengthUrl: string
  let eofUrl: string
  let shortUrl: string

  before(async () => {
    // The head and half the body, then the rest with the close while the client is still
    // taking the first half: the parser resumes onto the last bytes and the end together.
    const answer = (fields: string) => (s: Socket) => {
      s.write(`HTTP/1.1 200 OK\r\n${fields}Connection: close\r\n\r\n`)
      s.write(BODY.subarray(0, BODY.length / 2))
      setTimeout(() => s.end(BODY.subarray(BODY.length / 2)), 10)
    }
    lengthUrl = await upstream(answer(`Content-Length: ${BODY.length}\r\n`))
    // No length: the body ends where the connection does (RFC 9112 §6.3, rule 8).
    eofUrl = await upstream(answer(''))
    shortUrl = await upstream(answer(`Content-Length: ${BODY.length * 2}\r\n`))
  })
  after(async () => {
    await upstreams.close()
    for (const s of servers) s.close()
  })

  test('a body with Content-Length arrives whole, and the process lives', async () => {
    const r = await send(upstreams, lengthUrl)
    assert.equal(r.err, undefined)
    assert.equal(r.status, 200)
    assert.equal(r.received, BODY.length)
  })

  test('a body delimited by the close arrives whole', async () => {
    const r = await send(upstreams, eofUrl)
    assert.equal(r.err, undefined)
    assert.equal(r.received, BODY.length)
  })

  test('a body cut short by the close is the upstream failure it is', async () => {
    const r = await send(upstreams, shortUrl)
    assert.ok(r.err, 'a truncated body reported as complete')
    assert.equal((r.err as NodeJS.ErrnoException).code, 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH')
  })
})

describe('upstream: closing the pools', () => {
  test('an exchange that never ends is cut off after the grace period, not waited for', async () => {
    // Takes the request and never answers (read_timeout 5 s, far beyond the grace period).
    const { url, server } = await rawUpstream(() => {})
    const upstreams = new Upstreams()
    try {
      const pending = send(upstreams, url)
      // The request is on the wire: the pool has it in flight.
      await new Promise((r) => setTimeout(r, 100))
      const started = performance.now()
      const destroyed = await upstreams.close(200)
      const took = performance.now() - started
      assert.equal(destroyed, 1)
      assert.ok(took >= 190 && took < 1500, `close took ${took} ms`)
      const r = await pending
      assert.ok(r.err, 'the cut-off exchange reported no failure')
      assert.equal(r.status, 0)
    } finally {
      server.close()
    }
  })

  test('a pool a reload retired is bounded the same way', async () => {
    const { url, server } = await rawUpstream(() => {})
    const upstreams = new Upstreams()
    try {
      const pending = send(upstreams, url)
      await new Promise((r) => setTimeout(r, 100))
      // The reload's config has no service left: the pool is retired, its request still open.
      upstreams.retain([])
      const started = performance.now()
      assert.equal(await upstreams.close(200), 1)
      assert.ok(performance.now() - started < 1500)
      assert.ok((await pending).err)
    } finally {
      server.close()
    }
  })

  test('pools with nothing in flight close at once and none is destroyed', async () => {
    const { url, server } = await rawUpstream((s) => s.end('HTTP/1.1 204 No Content\r\n\r\n'))
    const upstreams = new Upstreams()
    try {
      const r = await send(upstreams, url)
      assert.equal(r.status, 204)
      const started = performance.now()
      assert.equal(await upstreams.close(5_000), 0)
      assert.ok(performance.now() - started < 1_000)
    } finally {
      server.close()
    }
  })
})
