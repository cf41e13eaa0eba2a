/**
 * Both halves together: the gateway signs with request binding, and an upstream that uses this
 * package's own middleware (with requireBinding) accepts exactly what the gateway forwarded.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { pino } from 'pino'
import { startGateway } from '../../src/gateway/gateway.js'
import { upstreamJwt, upstreamJwtOf } from '../../src/verify/adapters/node.js'
import { makePki } from '../../testing/pki.js'
import { tempDir } from '../../testing/tmp.js'
import { signingPlugin } from '../helpers/gateway-io.js'

test('gateway → verifying upstream: strip_path, service path, query and body all bound and verified', async (t) => {
  const dir = await tempDir(t)
  const pki = await makePki(dir)
  const guard = upstreamJwt({
    ca: pki.files.rootPem,
    issuer: 'edge',
    audience: 'orders',
    requireBinding: true,
  })
  const upstream = createServer(async (req, res) => {
    if (!(await guard(req, res))) return
    res.end(
      JSON.stringify({
        claims: upstreamJwtOf(req)?.claims,
        url: req.url,
        token: upstreamJwtOf(req)?.token,
      }),
    )
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  t.after(() => new Promise((r) => upstream.close(r)))
  const port = (upstream.address() as AddressInfo).port
  const gateway = await startGateway({
    config: {
      _format_version: '3.0',
      services: [
        {
          name: 'orders',
          url: `http://127.0.0.1:${port}/v2`,
          routes: [{ name: 'api', paths: ['/api'] }],
        },
      ],
      plugins: [signingPlugin(pki, { issuer: 'edge', bind_request: true })],
    },
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: false,
    logger: pino({ level: 'silent' }),
    env: {},
  })
  t.after(() => gateway.close())

  const ok = await fetch(`${gateway.url}/api/orders/42?expand=items&x=%20y`, {
    method: 'PUT',
    body: '{"qty":3}',
  })
  assert.equal(ok.status, 200, await ok.clone().text())
  const seen = (await ok.json()) as { claims: Record<string, string>; url: string; token: string }
  assert.equal(seen.url, '/v2/orders/42?expand=items&x=%20y')
  assert.equal(seen.claims.htm, 'PUT')
  assert.equal(seen.claims.htu, `http://127.0.0.1:${port}/v2/orders/42`)

  // The token the gateway made, sent again straight to the upstream: with a changed body it
  // fails the body hash, with the same body it is a replay.
  const resend = (body: string) =>
    fetch(`http://127.0.0.1:${port}/v2/orders/42?expand=items&x=%20y`, {
      method: 'PUT',
      body,
      headers: { jwt: seen.token },
    })
  const changed = await resend('{"qty":300}')
  assert.equal(changed.status, 401)
  assert.equal(((await changed.json()) as { error: string }).error, 'ERR_BODY_HASH_MISMATCH')
  const replayed = await resend('{"qty":3}')
  assert.equal(replayed.status, 401)
  assert.equal(((await replayed.json()) as { error: string }).error, 'ERR_TOKEN_REPLAYED')
})
