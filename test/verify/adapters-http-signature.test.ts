/**
 * Every framework adapter checks HTTP Message Signatures when its verifier is in
 * `http-signature` mode: the signed request passes, a changed body or path is refused.
 */
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
import { upstreamJwt as nodeJwt, upstreamJwtOf } from '../../src/verify/adapters/node.js'
import { createVerifier, type Verifier } from '../../src/verify/verifier.js'
import { type KeyFiles, writeKeys } from '../../testing/keys.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

const ORDER = JSON.stringify({ order: 42 })

async function listening(server: Server): Promise<string> {
  if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('framework adapters in http-signature mode', () => {
  let dir: string
  let keys: KeyFiles
  let signer: Signer
  let verifier: Verifier
  before(async () => {
    dir = await makeTempDir()
    keys = await writeKeys(dir, 'EdDSA')
    signer = await createSigner(
      {
        private_key_location: keys.key,
        public_key_location: keys.certPem,
        algorithm: 'EdDSA',
        signature_mode: 'http-signature',
      },
      { env: {} },
    )
    verifier = createVerifier({
      pinned: [keys.certPem],
      signatureMode: 'http-signature',
      replay: false,
    })
  })
  after(async () => {
    signer.close()
    await removeDir(dir)
  })

  /** Signed headers for POST http://{host}/orders?x=1 with ORDER as body. */
  const headersFor = async (host: string) => ({
    ...(
      await signer.signRequest({
        method: 'POST',
        scheme: 'http',
        host,
        path: '/orders',
        query: 'x=1',
        body: digestBytes(ORDER),
        headers: { 'content-type': 'application/json' },
      })
    ).headers,
    'content-type': 'application/json',
  })

  async function check(
    send: (
      path: string,
      body: string,
      headers: Record<string, string>,
    ) => Promise<Response | { status: number; body: string }>,
    host: string,
  ) {
    const headers = await headersFor(host)
    const ok = await send('/orders?x=1', ORDER, headers)
    assert.equal(ok.status, 200)
    for (const [path, body, code] of [
      ['/orders?x=1', '{"order":43}', 'ERR_BODY_HASH_MISMATCH'],
      ['/orders?x=2', ORDER, 'ERR_SIGNATURE_INVALID'],
    ] as const) {
      const res = await send(path, body, headers)
      assert.equal(res.status, 401)
      const text = 'json' in res ? await res.text() : res.body
      // Fastify's own error shape puts the code in `code`; the other adapters in `error`.
      const answer = JSON.parse(text) as { error?: string; code?: string }
      assert.equal(answer.code ?? answer.error, code)
    }
  }

  const viaFetch =
    (host: string) => (path: string, body: string, headers: Record<string, string>) =>
      fetch(`http://${host}${path}`, { method: 'POST', body, headers })

  test('node:http', async () => {
    const guard = nodeJwt({ verifier })
    const server = createServer(async (req, res) => {
      if (!(await guard(req, res))) return
      res.end(JSON.stringify(upstreamJwtOf(req)?.httpSignature))
    })
    try {
      const host = await listening(server)
      await check(viaFetch(host), host)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  test('Express', async () => {
    const app = express()
    app.use(express.json({ verify: captureRawBody }))
    app.use(expressJwt({ verifier }))
    app.post('/orders', (req, res) => {
      res.json({ alg: req.upstreamJwt?.httpSignature?.alg, order: req.body })
    })
    const server = createServer(app)
    try {
      const host = await listening(server)
      await check(viaFetch(host), host)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  test('Koa', async () => {
    const app = new Koa()
    app.use(koaUpstreamJwt({ verifier }))
    app.use(bodyParser())
    app.use((ctx) => {
      ctx.body = { alg: ctx.state.upstreamJwt.httpSignature?.alg, order: ctx.request.body }
    })
    const server = createServer(app.callback())
    try {
      const host = await listening(server)
      await check(viaFetch(host), host)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  test('Fastify', async () => {
    const app = Fastify()
    await app.register(fastifyUpstreamJwt, { verifier })
    app.post('/orders', async (request) => ({ alg: request.upstreamJwt?.httpSignature?.alg }))
    await check(async (url, payload, headers) => {
      const res = await app.inject({
        method: 'POST',
        url,
        payload,
        headers: { ...headers, host: 'orders.internal' },
      })
      return { status: res.statusCode, body: res.body }
    }, 'orders.internal')
    await app.close()
  })

  test('Hono', async () => {
    const app = new Hono()
    app.use(honoUpstreamJwt({ verifier }))
    app.post('/orders', async (c) =>
      c.json({ alg: c.get('upstreamJwt').httpSignature?.alg, order: await c.req.json() }),
    )
    await check(
      (path, body, headers) =>
        Promise.resolve(
          app.request(`http://orders.internal${path}`, { method: 'POST', body, headers }),
        ),
      'orders.internal',
    )
  })
})
