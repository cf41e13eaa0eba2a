/**
 * One refusal shape: the same refused requests sent over real HTTP to node:http, Express,
 * Fastify, Koa and Hono (each set up as the README shows, each with a verifier made from the same
 * options) come back with the same status, `WWW-Authenticate`, content type and body bytes.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { serve } from '@hono/node-server'
import { bodyParser } from '@koa/bodyparser'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'
import { digestBytes } from '../../src/core/body-digest.js'
import { createSigner, type Signer } from '../../src/signer/signer.js'
import { upstreamJwt as expressJwt } from '../../src/verify/adapters/express.js'
import { fastifyUpstreamJwt } from '../../src/verify/adapters/fastify.js'
import { honoUpstreamJwt } from '../../src/verify/adapters/hono.js'
import { koaUpstreamJwt } from '../../src/verify/adapters/koa.js'
import { upstreamJwt as nodeJwt, rawBodyOf, upstreamJwtOf } from '../../src/verify/adapters/node.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

const ORDER = JSON.stringify({ order: 42 })
const LIMIT = 1024

interface App {
  readonly name: string
  readonly url: string
  close(): Promise<void>
}

function listening(server: Server): Promise<string> {
  return new Promise((resolve) => {
    const done = () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    if (server.listening) done()
    else server.once('listening', done)
  })
}

function closing(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()))
}

/** What a refusal looks like on the wire, for comparison. */
interface Answer {
  readonly status: number
  readonly wwwAuthenticate: string | null
  readonly contentType: string | null
  readonly body: string
}

async function answer(res: Response): Promise<Answer> {
  return {
    status: res.status,
    wwwAuthenticate: res.headers.get('www-authenticate'),
    contentType: res.headers.get('content-type'),
    body: Buffer.from(await res.arrayBuffer()).toString('latin1'),
  }
}

describe('one refusal shape in node:http, Express, Fastify, Koa and Hono (real servers)', () => {
  let dir: string
  let pki: Pki
  let signer: Signer
  const apps: App[] = []
  after(async () => {
    await Promise.all(apps.map((a) => a.close()))
    await removeDir(dir)
  })
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
    // Each app makes its own verifier from the same options, as the README's snippets do.
    const options = { ca: pki.files.rootPem, issuer: 'gw', audience: 'orders', maxBodySize: LIMIT }

    const guard = nodeJwt(options)
    const node = createServer(async (req, res) => {
      if (!(await guard(req, res))) return
      res.end(JSON.stringify({ ok: upstreamJwtOf(req)?.claims.aud, bytes: rawBodyOf(req)?.length }))
    })
    node.listen(0, '127.0.0.1')
    apps.push({ name: 'node:http', url: await listening(node), close: () => closing(node) })

    const ex = express()
    ex.use(expressJwt(options))
    ex.use(express.json())
    ex.post('/orders', (req, res) => {
      res.json({ ok: req.upstreamJwt?.claims.aud, order: req.body })
    })
    const exServer = ex.listen(0, '127.0.0.1')
    apps.push({ name: 'Express', url: await listening(exServer), close: () => closing(exServer) })

    const fastify: FastifyInstance = Fastify()
    await fastify.register(fastifyUpstreamJwt, options)
    fastify.post('/orders', async (request) => ({
      ok: request.upstreamJwt?.claims.aud,
      order: request.body,
    }))
    const fastifyUrl = await fastify.listen({ port: 0, host: '127.0.0.1' })
    apps.push({ name: 'Fastify', url: fastifyUrl, close: () => fastify.close() })

    const koa = new Koa()
    koa.use(koaUpstreamJwt(options))
    koa.use(bodyParser())
    koa.use((ctx) => {
      ctx.body = { ok: ctx.state.upstreamJwt.claims.aud, order: ctx.request.body }
    })
    const koaServer = koa.listen(0, '127.0.0.1')
    apps.push({ name: 'Koa', url: await listening(koaServer), close: () => closing(koaServer) })

    const hono = new Hono()
    hono.use(honoUpstreamJwt(options))
    hono.post('/orders', async (c) =>
      c.json({ ok: c.get('upstreamJwt').claims.aud, order: await c.req.json() }),
    )
    const honoServer = serve({ fetch: hono.fetch, port: 0, hostname: '127.0.0.1' }) as Server
    apps.push({ name: 'Hono', url: await listening(honoServer), close: () => closing(honoServer) })
  })

  const token = (service = 'orders', body: string | null = ORDER) =>
    signer.sign({ body: body === null ? undefined : digestBytes(body), service: { name: service } })

  const post = (app: App, headers: Record<string, string>, body: string) =>
    fetch(`${app.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    })

  test('a good request passes in every framework, the JSON parsed after verification', async () => {
    const jwt = await token()
    for (const app of apps) {
      // Fresh token per app would be the same claims; one token, but each app has its own replay store.
      const res = await post(app, { jwt }, ORDER)
      assert.equal(res.status, 200, `${app.name}: ${await res.clone().text()}`)
      assert.equal(((await res.json()) as { ok: string }).ok, 'orders', app.name)
    }
  })

  test('the same refused requests get byte-identical answers', async () => {
    const good = await token()
    const [head, claims, signature] = good.split('.') as [string, string, string]
    // A different signature of the right length and canonical encoding.
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`
    const big = JSON.stringify({ pad: 'x'.repeat(1024 * 1024) })
    const replayed = await token()
    const cases: {
      name: string
      send: (app: App) => Promise<Response>
      status: number
      code: string
    }[] = [
      {
        name: 'no token',
        send: (app) => post(app, {}, ORDER),
        status: 401,
        code: 'ERR_TOKEN_MISSING',
      },
      {
        name: 'bad signature',
        send: (app) => post(app, { jwt: `${head}.${claims}.${flipped}` }, ORDER),
        status: 401,
        code: 'ERR_SIGNATURE_INVALID',
      },
      {
        name: 'wrong body',
        send: async (app) => post(app, { jwt: await token() }, ORDER.replace('42', '43')),
        status: 401,
        code: 'ERR_BODY_HASH_MISMATCH',
      },
      {
        name: 'token minted for another service',
        send: async (app) => post(app, { jwt: await token('billing') }, ORDER),
        status: 401,
        code: 'ERR_CLAIM_INVALID',
      },
      {
        name: 'replay',
        send: async (app) => {
          const first = await post(app, { jwt: replayed }, ORDER)
          assert.equal(first.status, 200, `${app.name}: first use`)
          await first.arrayBuffer()
          return post(app, { jwt: replayed }, ORDER)
        },
        status: 401,
        code: 'ERR_TOKEN_REPLAYED',
      },
      {
        // 1 MiB against a 1 KiB limit: refused early, the rest read off, so the connection
        // stays usable (the next case goes over the same keep-alive connections).
        name: 'body too large',
        send: async (app) => post(app, { jwt: await token('orders', big) }, big),
        status: 413,
        code: 'ERR_BODY_TOO_LARGE',
      },
      {
        name: 'bad token and malformed JSON: the verifier answers, not the parser',
        send: (app) => post(app, { jwt: 'not-a-token' }, '{"order": 4'),
        status: 401,
        code: 'ERR_TOKEN_MALFORMED',
      },
    ]
    for (const c of cases) {
      const answers: Answer[] = []
      for (const app of apps) {
        try {
          answers.push(await answer(await c.send(app)))
        } catch (err) {
          throw new Error(`${c.name}: ${app.name}: ${(err as Error).message}`, { cause: err })
        }
      }
      const first = answers[0] as Answer
      assert.equal(first.status, c.status, `${c.name}: ${first.body}`)
      assert.equal(first.contentType, 'application/json')
      const body = JSON.parse(first.body) as Record<string, string>
      assert.deepEqual(Object.keys(body), ['error', 'message'], c.name)
      assert.equal(body.error, c.code, c.name)
      if (c.status === 401) {
        assert.match(
          first.wwwAuthenticate ?? '',
          /^Bearer error="invalid_token", error_description="[^"\\]+"$/,
          c.name,
        )
      } else {
        assert.equal(first.wwwAuthenticate, null, c.name)
      }
      answers.forEach((a, i) => {
        assert.deepEqual(a, first, `${c.name}: ${apps[i]?.name} differs from ${apps[0]?.name}`)
      })
    }
  })
})
