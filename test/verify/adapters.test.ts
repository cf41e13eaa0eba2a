import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { bodyParser } from '@koa/bodyparser'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'
import { digestBytes } from '../../src/core/body-digest.js'
import { createSigner, type Signer } from '../../src/signer/signer.js'
import { captureRawBody, upstreamJwt as expressJwt } from '../../src/verify/adapters/express.js'
import { fastifyUpstreamJwt } from '../../src/verify/adapters/fastify.js'
import { honoUpstreamJwt } from '../../src/verify/adapters/hono.js'
import { koaUpstreamJwt } from '../../src/verify/adapters/koa.js'
import { upstreamJwt as nodeJwt, rawBodyOf, upstreamJwtOf } from '../../src/verify/adapters/node.js'
import { createVerifier, type Verifier } from '../../src/verify/verifier.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

const ORDER = JSON.stringify({ order: 42, item: 'ünïcode' })

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function close(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()))
}

describe('framework adapters (real frameworks)', () => {
  let dir: string
  let pki: Pki
  let signer: Signer
  let verifier: Verifier
  after(() => removeDir(dir))
  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    signer = await createSigner(
      {
        private_key_location: pki.files.key,
        public_key_location: pki.files.chain,
        algorithm: 'ES256',
        issuer: 'gw',
      },
      { env: {} },
    )
    verifier = createVerifier({ ca: pki.files.rootPem, issuer: 'gw', audience: 'orders' })
  })
  const signed = async (body = ORDER, consumer = { id: 'c-1', username: 'alice' }) => ({
    jwt: await signer.sign({
      body: body ? digestBytes(body) : undefined,
      consumer,
      service: { name: 'orders' },
    }),
    'content-type': 'application/json',
  })

  async function expectRefused(res: Response, code: string, status = 401) {
    assert.equal(res.status, status)
    const body = (await res.json()) as { error?: string; code?: string }
    assert.equal(body.error ?? body.code, code)
    if (status === 401)
      assert.match(
        res.headers.get('www-authenticate') ?? '',
        /^Bearer error="invalid_token", error_description="[^"]+"$/,
      )
  }

  test('node:http: verifies, exposes the token and the raw body; refuses a tampered body', async () => {
    const guard = nodeJwt({ verifier })
    const server = createServer(async (req, res) => {
      if (!(await guard(req, res))) return
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          consumer: upstreamJwtOf(req)?.claims.consumername,
          body: JSON.parse(rawBodyOf(req)?.toString() || 'null'),
        }),
      )
    })
    const url = await listen(server)
    try {
      const ok = await fetch(`${url}/orders`, {
        method: 'POST',
        headers: await signed(),
        body: ORDER,
      })
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { consumer: 'alice', body: JSON.parse(ORDER) })
      await expectRefused(
        await fetch(url, {
          method: 'POST',
          headers: await signed(),
          body: ORDER.replace('42', '43'),
        }),
        'ERR_BODY_HASH_MISMATCH',
      )
      await expectRefused(await fetch(url, { method: 'POST', body: ORDER }), 'ERR_TOKEN_MISSING')
      const get = await fetch(url, { headers: await signed('') })
      assert.equal(get.status, 200)
    } finally {
      await close(server)
    }
  })

  test('node:http: a body over maxBodySize is refused with 413', async () => {
    const guard = nodeJwt({ verifier, maxBodySize: 10 })
    const server = createServer(async (req, res) => {
      if (await guard(req, res)) res.end('ok')
    })
    const url = await listen(server)
    try {
      await expectRefused(
        await fetch(url, { method: 'POST', headers: await signed(), body: ORDER }),
        'ERR_BODY_TOO_LARGE',
        413,
      )
    } finally {
      await close(server)
    }
  })

  test('Express: express.json({ verify: captureRawBody }) then the middleware; JSON parsed, token verified', async () => {
    const app = express()
    app.use(express.json({ verify: captureRawBody }))
    app.use(expressJwt({ verifier }))
    app.post('/orders', (req, res) => {
      res.json({ consumer: req.upstreamJwt?.claims.consumerid, order: req.body })
    })
    app.get('/orders', (req, res) => {
      res.json({ consumer: req.upstreamJwt?.claims.consumerid })
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const ok = await fetch(`${url}/orders`, {
        method: 'POST',
        headers: await signed(),
        body: ORDER,
      })
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { consumer: 'c-1', order: JSON.parse(ORDER) })
      const get = await fetch(`${url}/orders`, { headers: await signed('') })
      assert.deepEqual(await get.json(), { consumer: 'c-1' })
      await expectRefused(
        await fetch(`${url}/orders`, {
          method: 'POST',
          headers: await signed(),
          body: `${ORDER} `,
        }),
        'ERR_BODY_HASH_MISMATCH',
      )
    } finally {
      await close(server)
    }
  })

  test("Express in the README's order: the middleware, then express.json(); the verifier answers before the parser", async () => {
    const app = express()
    app.use(expressJwt({ verifier }))
    app.use(express.json({ limit: '1mb' }))
    app.post('/orders', (req, res) => {
      res.json({ consumer: req.upstreamJwt?.claims.consumerid, order: req.body })
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`
    try {
      const ok = await fetch(url, { method: 'POST', headers: await signed(), body: ORDER })
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { consumer: 'c-1', order: JSON.parse(ORDER) })
      // A body in many chunks (streamed by the client) reaches the parser whole.
      const large = JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => `item-${i}`) })
      const chunks = Array.from({ length: Math.ceil(large.length / 8192) }, (_, i) =>
        Buffer.from(large.slice(i * 8192, (i + 1) * 8192)),
      )
      const streamed = await fetch(url, {
        method: 'POST',
        headers: await signed(large),
        body: new ReadableStream({
          async pull(controller) {
            const next = chunks.shift()
            if (next) {
              await new Promise((r) => setTimeout(r, 1))
              controller.enqueue(next)
            } else controller.close()
          },
        }),
        duplex: 'half',
      } as RequestInit)
      assert.equal(streamed.status, 200)
      assert.deepEqual(((await streamed.json()) as { order: unknown }).order, JSON.parse(large))
      // A bad token with malformed JSON: the verifier's 401, not the parser's 400.
      const bad = await fetch(url, {
        method: 'POST',
        headers: { jwt: 'not.a.token', 'content-type': 'application/json' },
        body: '{"order": 4',
      })
      await expectRefused(bad, 'ERR_TOKEN_MALFORMED')
      const noToken = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"order": 4',
      })
      await expectRefused(noToken, 'ERR_TOKEN_MISSING')
      // A good token for malformed JSON passes the verifier; then the parser refuses it.
      const malformed = '{"order": 4'
      const parsed = await fetch(url, {
        method: 'POST',
        headers: await signed(malformed),
        body: malformed,
      })
      assert.equal(parsed.status, 400)
      assert.match(parsed.headers.get('content-type') ?? '', /text\/html/)
    } finally {
      await close(server)
    }
  })

  test('every adapter refuses to start without audience, naming it; audience: null is the explicit "any"', async () => {
    const options = { ca: pki.files.rootPem, issuer: 'gw' } as unknown as {
      audience: null
      ca: string
    }
    const refusal = { code: 'ERR_OPTION_INVALID', message: /option "audience" is required/ }
    assert.throws(() => nodeJwt(options as never), refusal)
    assert.throws(() => expressJwt(options as never), refusal)
    assert.throws(() => koaUpstreamJwt(options as never), refusal)
    assert.throws(() => honoUpstreamJwt(options as never), refusal)
    const app = Fastify()
    await assert.rejects(async () => {
      await app.register(fastifyUpstreamJwt, options as never)
      await app.ready()
    }, refusal)
    await app.close()
    const any = honoUpstreamJwt({ ca: pki.files.rootPem, issuer: 'gw', audience: null })
    const hono = new Hono()
    hono.use(any)
    hono.post('/', (c) => c.text('ok'))
    const other = {
      jwt: await signer.sign({ body: digestBytes(ORDER), service: { name: 'billing' } }),
    }
    assert.equal(
      (await hono.request('/', { method: 'POST', headers: other, body: ORDER })).status,
      200,
    )
    const strict = new Hono()
    strict.use(honoUpstreamJwt({ ca: pki.files.rootPem, issuer: 'gw', audience: 'orders' }))
    strict.post('/', (c) => c.text('ok'))
    const refused = await strict.request('/', {
      method: 'POST',
      headers: {
        jwt: await signer.sign({ body: digestBytes(ORDER), service: { name: 'billing' } }),
      },
      body: ORDER,
    })
    await expectRefused(refused, 'ERR_CLAIM_INVALID')
  })

  test("Fastify: an error handler of the user's own, or onError, answers refusals instead", async () => {
    const withHandler = Fastify()
    withHandler.setErrorHandler((err: { statusCode?: number; code?: string }, _request, reply) => {
      reply.code(418).send({ mine: err.code, status: err.statusCode })
    })
    await withHandler.register(fastifyUpstreamJwt, { verifier })
    withHandler.get('/', async () => 'ok')
    const handled = await withHandler.inject({ method: 'GET', url: '/' })
    assert.equal(handled.statusCode, 418)
    assert.deepEqual(handled.json(), { mine: 'ERR_TOKEN_MISSING', status: 401 })
    assert.match(String(handled.headers['www-authenticate']), /^Bearer error="invalid_token"/)
    await withHandler.close()
    const withHook = Fastify()
    await withHook.register(fastifyUpstreamJwt, {
      verifier,
      onError: (err, _request, reply) =>
        reply.code(403).send(`nope: ${(err as { code: string }).code}`),
    })
    withHook.get('/', async () => 'ok')
    const hooked = await withHook.inject({ method: 'GET', url: '/', headers: { jwt: 'x.y.z' } })
    assert.equal(hooked.statusCode, 403)
    assert.equal(hooked.body, 'nope: ERR_TOKEN_MALFORMED')
    await withHook.close()
  })

  test('Fastify: with an async onSend hook (compression, ...) a refused request never reaches the handler', async () => {
    for (const onError of [
      undefined,
      (
        _err: unknown,
        _request: unknown,
        reply: { code(n: number): { send(b: string): unknown } },
      ) => reply.code(403).send('nope'),
    ]) {
      const app = Fastify()
      // The reply is not ended when reply.send() returns: the onSend hook is still pending.
      app.addHook('onSend', async (_request, _reply, payload) => {
        await new Promise((resolve) => setImmediate(resolve))
        return payload
      })
      await app.register(fastifyUpstreamJwt, { verifier, ...(onError ? { onError } : {}) } as never)
      let handled = 0
      app.get('/', async () => {
        handled++
        return 'protected'
      })
      const res = await app.inject({ method: 'GET', url: '/', headers: { jwt: 'x.y.z' } })
      assert.equal(res.statusCode, onError ? 403 : 401, res.body)
      assert.equal(handled, 0, 'the route handler ran for a refused request')
      await app.close()
    }
  })

  test('Express: a parser that did not capture the raw body makes the middleware fail closed (500)', async () => {
    const app = express()
    app.use(express.json())
    app.use(expressJwt({ verifier }))
    app.post('/', (_req, res) => {
      res.send('should not happen')
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
        method: 'POST',
        headers: await signed(),
        body: ORDER,
      })
      await expectRefused(res, 'ERR_RAW_BODY_UNAVAILABLE', 500)
    } finally {
      await close(server)
    }
  })

  test('Fastify: the plugin verifies in preParsing; Fastify parses the JSON after it', async () => {
    const app = Fastify()
    await app.register(fastifyUpstreamJwt, { verifier })
    app.post('/orders', async (request) => ({
      consumer: request.upstreamJwt?.claims.consumername,
      order: request.body,
    }))
    app.get('/orders', async (request) => ({ consumer: request.upstreamJwt?.claims.consumername }))
    const ok = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: await signed(),
      payload: ORDER,
    })
    assert.equal(ok.statusCode, 200, ok.body)
    assert.deepEqual(ok.json(), { consumer: 'alice', order: JSON.parse(ORDER) })
    const get = await app.inject({
      method: 'GET',
      url: '/orders',
      headers: { jwt: (await signed('')).jwt },
    })
    assert.equal(get.statusCode, 200, get.body)
    assert.deepEqual(get.json(), { consumer: 'alice' })
    const bad = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: await signed(),
      payload: ORDER.replace('42', '41'),
    })
    assert.equal(bad.statusCode, 401)
    assert.deepEqual(Object.keys(bad.json()), ['error', 'message'])
    assert.equal(bad.json().error, 'ERR_BODY_HASH_MISMATCH')
    assert.match(String(bad.headers['www-authenticate']), /^Bearer error="invalid_token"/)
    const none = await app.inject({ method: 'GET', url: '/orders' })
    assert.equal(none.statusCode, 401)
    assert.equal(none.json().error, 'ERR_TOKEN_MISSING')
    await app.close()
  })

  test('Koa: the middleware before @koa/bodyparser; the parser still reads the body', async () => {
    const app = new Koa()
    app.use(koaUpstreamJwt({ verifier }))
    app.use(bodyParser())
    app.use((ctx) => {
      ctx.body = { consumer: ctx.state.upstreamJwt.claims.consumerid, order: ctx.request.body }
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const ok = await fetch(url, { method: 'POST', headers: await signed(), body: ORDER })
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { consumer: 'c-1', order: JSON.parse(ORDER) })
      await expectRefused(
        await fetch(url, { method: 'POST', headers: await signed(), body: '{}' }),
        'ERR_BODY_HASH_MISMATCH',
      )
    } finally {
      await close(server)
    }
  })

  test('Koa and Hono: onError answers refusals your way', async () => {
    const hono = new Hono()
    hono.use(
      honoUpstreamJwt({
        verifier,
        onError: (err, c) => c.text(`nope: ${(err as { code: string }).code}`, 403),
      }),
    )
    hono.get('/', (c) => c.text('ok'))
    const refused = await hono.request('/', { headers: { jwt: 'garbage' } })
    assert.equal(refused.status, 403)
    assert.equal(await refused.text(), 'nope: ERR_TOKEN_MALFORMED')
    const koa = new Koa()
    koa.use(
      koaUpstreamJwt({
        verifier,
        onError: (err, ctx) => {
          ctx.status = 418
          ctx.body = `nope: ${(err as { code: string }).code}`
        },
      }),
    )
    const server = koa.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
      assert.equal(res.status, 418)
      assert.equal(await res.text(), 'nope: ERR_TOKEN_MISSING')
    } finally {
      await close(server)
    }
  })

  test('Hono: c.req.json() works after verification; refusals are RFC 6750', async () => {
    const app = new Hono()
    app.use(honoUpstreamJwt({ verifier }))
    app.post('/orders', async (c) =>
      c.json({ consumer: c.get('upstreamJwt').claims.consumername, order: await c.req.json() }),
    )
    const ok = await app.request('http://orders.internal/orders', {
      method: 'POST',
      headers: await signed(),
      body: ORDER,
    })
    assert.equal(ok.status, 200)
    assert.deepEqual(await ok.json(), { consumer: 'alice', order: JSON.parse(ORDER) })
    await expectRefused(
      await app.request('/orders', { method: 'POST', headers: { jwt: 'garbage' }, body: ORDER }),
      'ERR_TOKEN_MALFORMED',
    )
  })
})
