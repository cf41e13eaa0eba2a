/**
 * The gateway in `both` mode in front of an upstream that uses this package's middleware in
 * `both` mode, with a tampering hop between them: each part changed on the way is refused with
 * its own code, and what the gateway sent verifies with the independent npm
 * http-message-signatures.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { httpbis, createVerifier as theirVerifier } from 'http-message-signatures'
import { pino } from 'pino'
import { startGateway } from '../../src/gateway/gateway.js'
import { upstreamJwt, upstreamJwtOf } from '../../src/verify/adapters/node.js'
import { makePki } from '../../testing/pki.js'
import { tempDir } from '../../testing/tmp.js'
import { signingPlugin } from '../helpers/gateway-io.js'

type Tamper = 'none' | 'body' | 'method' | 'path' | 'query' | 'header'

test('gateway (both) → tampering hop → verifying upstream (both)', async (t) => {
  const dir = await tempDir(t)
  const pki = await makePki(dir)
  const guard = upstreamJwt({
    ca: pki.files.rootPem,
    issuer: 'edge',
    audience: 'orders',
    requireBinding: true,
    signatureMode: 'both',
  })
  let received: { method: string; url: string; headers: IncomingHttpHeaders } | undefined
  const upstream = createServer(async (req, res) => {
    received = { method: req.method!, url: req.url!, headers: req.headers }
    if (!(await guard(req, res))) return
    res.end(JSON.stringify({ signature: upstreamJwtOf(req)?.httpSignature }))
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  t.after(() => new Promise((r) => upstream.close(r)))
  const upstreamPort = (upstream.address() as AddressInfo).port

  // A hop between gateway and upstream that changes one part of the request on the way.
  const hop = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    let body = Buffer.concat(chunks)
    const what = req.headers['x-tamper'] as Tamper
    let method = req.method!
    let path = req.url!
    const headers = { ...req.headers }
    if (what === 'body') body = Buffer.concat([body, Buffer.from(' ')])
    if (what === 'method') method = 'PATCH'
    if (what === 'path') path = path.replace('/orders/42', '/orders/43')
    if (what === 'query') path = path.replace('expand=items', 'expand=all')
    if (what === 'header') headers['content-type'] = 'text/plain'
    headers['content-length'] = String(body.length)
    const out = request(
      { host: '127.0.0.1', port: upstreamPort, method, path, headers },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers)
        answer.pipe(res)
      },
    )
    out.end(body)
  })
  await new Promise<void>((r) => hop.listen(0, '127.0.0.1', r))
  t.after(() => new Promise((r) => hop.close(r)))
  const hopPort = (hop.address() as AddressInfo).port

  const gateway = await startGateway({
    config: {
      _format_version: '3.0',
      services: [
        {
          name: 'orders',
          url: `http://127.0.0.1:${hopPort}/v2`,
          routes: [{ name: 'api', paths: ['/api'] }],
        },
      ],
      plugins: [signingPlugin(pki, { issuer: 'edge', bind_request: true, signature_mode: 'both' })],
    },
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: false,
    logger: pino({ level: 'silent' }),
    env: {},
  })
  t.after(() => gateway.close())

  const send = (tamper: Tamper) =>
    fetch(`${gateway.url}/api/orders/42?expand=items&x=%20y`, {
      method: 'PUT',
      body: '{"qty":3}',
      headers: { 'content-type': 'application/json', 'x-tamper': tamper },
    })

  const ok = await send('none')
  assert.equal(ok.status, 200, await ok.clone().text())
  const { signature } = (await ok.json()) as { signature: { components: string[]; nonce: string } }
  assert.deepEqual(signature.components, [
    '@method',
    '@target-uri',
    'content-digest',
    'content-type',
    'jwt',
  ])

  // The independent implementation accepts what the upstream received.
  const kid = (await import('../../src/core/keys.js')).jwkThumbprint(pki.leaf.cert.publicKey)
  const valid = await httpbis.verifyMessage(
    {
      keyLookup: async (params) =>
        params.keyid === kid
          ? {
              id: kid,
              algs: ['ecdsa-p256-sha256'],
              verify: theirVerifier(pki.leaf.cert.publicKey, 'ecdsa-p256-sha256'),
            }
          : null,
      requiredFields: ['@method', '@target-uri', 'content-digest', 'content-type', 'jwt'],
    },
    {
      method: received!.method,
      url: `http://${received!.headers.host}${received!.url}`,
      headers: received!.headers as Record<string, string>,
    },
  )
  assert.equal(valid, true)

  const expected: Record<Exclude<Tamper, 'none'>, [string, string]> = {
    body: ['ERR_BODY_HASH_MISMATCH', 'payloadhash'],
    method: ['ERR_BINDING_MISMATCH', 'htm'],
    path: ['ERR_BINDING_MISMATCH', 'htu'],
    query: ['ERR_BINDING_MISMATCH', 'htq'],
    header: ['ERR_SIGNATURE_INVALID', ''],
  }
  const seen = new Set<string>()
  for (const [tamper, [code, claim]] of Object.entries(expected)) {
    const res = await send(tamper as Tamper)
    assert.equal(res.status, 401, tamper)
    const answer = (await res.json()) as { error: string; message: string }
    assert.equal(answer.error, code, `${tamper}: ${answer.message}`)
    // Method, path and query share the binding code; the message names the claim at fault.
    if (claim) assert.match(answer.message, new RegExp(`"${claim}"`), tamper)
    seen.add(`${code}/${claim}`)
  }
  assert.equal(seen.size, 5, 'every tampered part is told apart')
})
