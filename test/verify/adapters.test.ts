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
    verifier = createVerifier({ ca: pki.files.rootPem, issuer: 'gw' })
  })
  const signed = async (body = ORDER, consumer = { id: 'c-1', username: 'alice' }) => ({
    jwt: await signer.sign({ body: body ? digestBytes(body) : undefined, consumer }),
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
    assert.equal(bad.json().code, 'ERR_BODY_HASH_MISMATCH')
    assert.match(String(bad.headers['www-authenticate']), /^Bearer error="invalid_token"/)
    const none = await app.inject({ method: 'GET', url: '/orders' })
    assert.equal(none.statusCode, 401)
    assert.equal(none.json().code, 'ERR_TOKEN_MISSING')
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
