import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, readlink, realpath, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { httpbis, createVerifier as theirVerifier } from 'http-message-signatures'
import { importX509, jwtVerify } from 'jose'
import { buildKongPlugin } from '../../scripts/build-kong.mjs'
import { ALGORITHMS } from '../../src/core/algorithms.js'
import { jwkThumbprint } from '../../src/core/keys.js'
import { upstreamJwt } from '../../src/verify/adapters/node.js'
import { createVerifier } from '../../src/verify/verifier.js'
import { writeKeys } from '../../testing/keys.js'
import {
  ANSWERS,
  forwardAsKong,
  forwardedHeaders,
  handleEvent,
  type KongRequest,
  KongRpc,
  PLUGIN_NODE,
  PLUGIN_SERVER,
  type PluginServer,
  startInstance,
  startPluginServer,
} from '../../testing/kong.js'
import { kongPdkMethods } from '../../testing/kong-pdk-methods.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { cli } from '../helpers/cli.js'
import { openssl, p1363ToDer } from '../helpers/openssl.js'

const exec = promisify(execFile)
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
const BODY = Buffer.from('{"order":42,"note":"ünïcode"}')

describe('Kong plugin through the real kong-js-pluginserver', () => {
  let dir: string
  let pluginsDir: string
  let pki: Pki
  let server: PluginServer
  let rpc: KongRpc
  const servers: PluginServer[] = []
  const keys = () => ({
    private_key_location: pki.files.key,
    public_key_location: pki.files.chain,
    algorithm: 'ES256',
  })

  after(async () => {
    rpc?.close()
    await Promise.all(servers.map((s) => s.stop()))
    for (const s of servers)
      assert.notEqual(s.child.exitCode ?? s.child.signalCode, null, 'no plugin server left running')
    await removeDir(dir)
  })
  before(async () => {
    dir = await makeTempDir()
    pluginsDir = join(dir, 'plugins')
    await mkdir(pluginsDir)
    const bundle = await buildKongPlugin(join(dir, 'bundle', 'plugin.cjs'))
    await writeFile(
      join(pluginsDir, 'kong-upstream-jwt.js'),
      `module.exports = require(${JSON.stringify(bundle)})\n`,
    )
    pki = await makePki(dir)
    server = await startPluginServer(pluginsDir, dir)
    servers.push(server)
    rpc = await KongRpc.connect(server.socket)
  })

  async function verified(
    token: string | undefined,
    alg = 'ES256',
    cert = pki.leaf.cert.toString(),
  ) {
    assert.equal(typeof token, 'string')
    const key = await importX509(cert, alg)
    return (await jwtVerify(token as string, key, { algorithms: [alg] })).payload
  }

  test('plugin info, as Kong queries it: name, version, priority 790, access phase, schema', async () => {
    const { stdout } = await exec(PLUGIN_NODE, [
      PLUGIN_SERVER,
      '--plugins-directory',
      pluginsDir,
      '--dump-all-plugins',
    ])
    const [info] = JSON.parse(stdout)
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
    assert.equal(info.Name, 'kong-upstream-jwt')
    assert.equal(info.Version, pkg.version)
    assert.equal(info.Priority, 790)
    assert.deepEqual(info.Phases, ['access'])
    const fields = Object.assign({}, ...info.Schema.fields[0].config.fields)
    assert.deepEqual(fields.header, { type: 'string', required: false, default: 'JWT' })
    assert.deepEqual(fields.include_credential_type, {
      type: 'boolean',
      required: false,
      default: false,
    })
    for (const name of ['issuer', 'private_key_location', 'public_key_location', 'key_id'])
      assert.equal(fields[name].type, 'string')
    assert.deepEqual(fields.algorithm.one_of, [...ALGORITHMS])
    assert.deepEqual(fields.token_ttl.between, [1, 86400])
    const viaRpc = (await rpc.call('plugin.GetPluginInfo', 'kong-upstream-jwt')) as {
      Priority: number
    }
    assert.equal(viaRpc.Priority, 790)
  })

  test('the plugin server runs on the Node under test (KONG_TEST_NODE)', {
    skip: process.platform !== 'linux' && 'reads /proc',
  }, async () => {
    const exe = await readlink(`/proc/${server.child.pid}/exe`)
    assert.equal(exe, await realpath(PLUGIN_NODE))
  })

  test('loading the plugin prints nothing on stdout', async () => {
    const { stdout } = await exec(PLUGIN_NODE, [
      '-e',
      `require(${JSON.stringify(join(pluginsDir, 'kong-upstream-jwt.js'))})`,
    ])
    assert.equal(stdout, '')
  })

  test('a request with a body and a consumer: the header verifies with jose and openssl; claims as the original', async () => {
    const id = await startInstance(rpc, { ...keys(), issuer: 'kong' })
    const result = await handleEvent(rpc, id, 'access', {
      headers: {
        'content-length': String(BODY.length),
        'content-type': 'application/json',
        jwt: 'forged',
      },
      body: BODY,
      service: { id: 's-1', name: 'orders' },
      consumer: { id: 'c-1', username: 'alice' },
    })
    assert.equal(result.exit, undefined, result.logs.join('\n'))
    const token = result.setHeaders.jwt
    const claims = await verified(token)
    assert.equal(claims.payloadhash, sha256(BODY))
    assert.equal(claims.aud, 'orders')
    assert.equal(claims.iss, 'kong')
    assert.equal(claims.consumerid, 'c-1')
    assert.equal(claims.consumername, 'alice')
    assert.ok(result.calls.length <= 5, `${result.calls.length} PDK calls`)
    const [h, p, s] = (token as string).split('.') as [string, string, string]
    await writeFile(join(dir, 'in'), `${h}.${p}`)
    await writeFile(join(dir, 'sig'), p1363ToDer(Buffer.from(s, 'base64url')))
    await writeFile(join(dir, 'leaf.pem'), pki.leaf.cert.toString())
    await writeFile(
      join(dir, 'pub.pem'),
      await openssl(['x509', '-in', join(dir, 'leaf.pem'), '-pubkey', '-noout']),
    )
    assert.match(
      await openssl([
        'dgst',
        '-sha256',
        '-verify',
        join(dir, 'pub.pem'),
        '-signature',
        join(dir, 'sig'),
        join(dir, 'in'),
      ]),
      /Verified OK/,
    )
  })

  test('no consumer, no service, no body: no consumer claims, no aud, payloadhash "", 4 PDK calls', async () => {
    const id = await startInstance(rpc, keys())
    const result = await handleEvent(rpc, id, 'access', { headers: {} })
    const claims = await verified(result.setHeaders.jwt)
    assert.equal(claims.payloadhash, '')
    assert.equal('aud' in claims, false)
    assert.equal('consumerid' in claims, false)
    assert.equal(result.calls.length, 4)
    assert.ok(!result.calls.some((c) => c.method === 'kong.request.get_raw_body'))
  })

  test('a body above 8 KiB (nginx buffers it to disk; Kong >= 3.8 reads it with the limit passed)', async () => {
    const id = await startInstance(rpc, keys())
    const big = Buffer.alloc(64 * 1024, 7)
    const result = await handleEvent(rpc, id, 'access', {
      headers: { 'content-length': String(big.length) },
      body: big,
    })
    assert.equal((await verified(result.setHeaders.jwt)).payloadhash, sha256(big))
    const read = result.calls.find((c) => c.method === 'kong.request.get_raw_body')
    assert.deepEqual(read?.args, [10 * 1024 * 1024])
  })

  test('Bearer prefix, another header name, legacy x5c', async () => {
    const id = await startInstance(rpc, {
      ...keys(),
      include_credential_type: true,
      header: 'X-Kong-JWT',
      x5c_encoding: 'base64url',
    })
    const result = await handleEvent(rpc, id, 'access', { headers: {} })
    const value = result.setHeaders['x-kong-jwt'] as string
    assert.match(value, /^Bearer /)
    const token = value.slice(7)
    await verified(token)
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())
    assert.equal(header.x5c[0], pki.leaf.cert.raw.toString('base64url'))
  })

  test('every algorithm once', async () => {
    for (const alg of ALGORITHMS) {
      const files = await writeKeys(dir, alg, { name: `kong-${alg}` })
      const id = await startInstance(rpc, {
        private_key_location: files.key,
        public_key_location: files.certDer,
        algorithm: alg,
      })
      const result = await handleEvent(rpc, id, 'access', {
        headers: { 'content-length': '2' },
        body: Buffer.from('hi'),
      })
      const claims = await verified(result.setHeaders.jwt, alg, files.cert.toString())
      assert.equal(claims.payloadhash, sha256('hi'), alg)
    }
  })

  test('a bad configuration is refused at StartInstance with the reason', async () => {
    await assert.rejects(
      startInstance(rpc, { ...keys(), algorithm: 'HS256' }),
      /option "algorithm" must be one of/,
    )
    await assert.rejects(
      startInstance(rpc, { ...keys(), privat_key_location: '/x' }),
      /unknown option "privat_key_location"/,
    )
  })

  test('an unreadable key: the request ends with 500, the header is never set, the log says why without key material', async () => {
    const id = await startInstance(rpc, {
      private_key_location: join(dir, 'missing.pem'),
      public_key_location: pki.files.chain,
    })
    const result = await handleEvent(rpc, id, 'access', { headers: {} })
    assert.deepEqual(result.exit, {
      status: 500,
      body: { message: 'An unexpected error occurred', code: 'ERR_KEY_NOT_FOUND' },
    })
    assert.deepEqual(result.setHeaders, {})
    assert.match(
      result.logs.join('\n'),
      /not forwarded unsigned: ERR_KEY_NOT_FOUND: private key file not found/,
    )
    assert.equal(result.calls.at(-1)?.method, 'kong.response.exit', 'no PDK call after exit')
  })

  test('a failing kong.log.err still ends the request (never proxied unsigned)', async () => {
    const id = await startInstance(rpc, {
      private_key_location: join(dir, 'missing.pem'),
      public_key_location: pki.files.chain,
    })
    const result = await handleEvent(rpc, id, 'access', { headers: {}, failLog: true })
    assert.equal(result.exit?.status, 500)
    assert.deepEqual(result.setHeaders, {})
  })

  test('a body over max_body_size: 413 before the body is read', async () => {
    const id = await startInstance(rpc, { ...keys(), max_body_size: 1000 })
    const result = await handleEvent(rpc, id, 'access', {
      headers: { 'content-length': '5000' },
      body: Buffer.alloc(5000),
    })
    assert.equal(result.exit?.status, 413)
    assert.ok(!result.calls.some((c) => c.method === 'kong.request.get_raw_body'))
    assert.deepEqual(result.setHeaders, {})
  })

  test('a body Kong cannot give (empty answer for a declared body): 500, never an empty hash', async () => {
    const id = await startInstance(rpc, keys())
    const result = await handleEvent(rpc, id, 'access', {
      headers: { 'content-length': '20000' },
      body: Buffer.alloc(20000),
      rawBodyAnswer: null,
    })
    assert.equal(result.exit?.status, 500)
    assert.equal((result.exit?.body as { code?: string } | undefined)?.code, 'ERR_BODY_UNAVAILABLE')
    assert.deepEqual(result.setHeaders, {})
  })

  describe('bind_request: htm/htu/htq are the request as Kong forwards it', () => {
    let upstream: Server
    let port: number
    const seen: { method: string; url: string; host: string; status: number; error?: string }[] = []
    before(async () => {
      const guard = upstreamJwt({
        ca: pki.files.rootPem,
        audience: 'orders',
        requireBinding: true,
        onError: (err, req, res) => {
          seen.push({
            method: req.method ?? '',
            url: req.url ?? '',
            host: req.headers.host ?? '',
            status: 401,
            error: (err as { code?: string }).code,
          })
          res.writeHead(401).end()
        },
      })
      upstream = createServer(async (req, res) => {
        if (!(await guard(req, res))) return
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          host: req.headers.host ?? '',
          status: 200,
        })
        res.end('ok')
      })
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
      port = (upstream.address() as AddressInfo).port
    })
    after(
      () =>
        new Promise<void>((r) => {
          upstream.closeAllConnections()
          upstream.close(() => r())
        }),
    )

    const cases: {
      name: string
      target: string
      servicePath: string
      route: KongRequest['route']
      method?: string
      /** What Kong sends upstream (the request target), worked out by hand from Kong's rules. */
      expected: string
    }[] = [
      {
        name: 'strip_path on, service path /',
        target: '/orders/42',
        servicePath: '/',
        route: { paths: ['/orders'] },
        expected: '/42',
      },
      {
        name: 'strip_path on, service path /base',
        target: '/orders/42',
        servicePath: '/base',
        route: { paths: ['/orders'] },
        expected: '/base/42',
      },
      {
        name: 'strip_path on, exactly the route path, service path /base',
        target: '/orders',
        servicePath: '/base',
        route: { paths: ['/orders'] },
        expected: '/base',
      },
      {
        name: 'strip_path off, service path /',
        target: '/orders/42',
        servicePath: '/',
        route: { paths: ['/orders'], strip_path: false },
        expected: '/orders/42',
      },
      {
        name: 'strip_path off, service path /base',
        target: '/orders/42',
        servicePath: '/base',
        route: { paths: ['/orders'], strip_path: false },
        expected: '/base/orders/42',
      },
      {
        name: 'path_handling v1, service path /base/',
        target: '/orders/42',
        servicePath: '/base/',
        route: { paths: ['/orders'], path_handling: 'v1' },
        expected: '/base/42',
      },
      {
        name: 'preserve_host: the client Host goes upstream',
        target: '/orders/42',
        servicePath: '/base',
        route: { paths: ['/orders'], preserve_host: true },
        method: 'PUT',
        expected: '/base/42',
      },
      {
        name: 'a query with encoded characters, and an encoded path',
        target: '/orders/a%20b%2Fc%7e?q=caf%C3%A9&sig=a%2Bb%3D&x=%20&empty=',
        servicePath: '/base',
        route: { paths: ['/orders'] },
        method: 'DELETE',
        expected: '/base/a%20b%2Fc~?q=caf%C3%A9&sig=a%2Bb%3D&x=%20&empty=',
      },
      {
        name: 'an empty query (`?` alone) is forwarded as Kong does',
        target: '/orders/42?',
        servicePath: '/base',
        route: { paths: ['/orders'] },
        expected: '/base/42?',
      },
    ]

    for (const c of cases) {
      test(c.name, async () => {
        const id = await startInstance(rpc, { ...keys(), bind_request: true })
        const req: KongRequest = {
          method: c.method ?? 'GET',
          target: c.target,
          headers: { host: 'API.Example.com:8000', 'x-client': 'yes' },
          service: {
            id: 's-1',
            name: 'orders',
            protocol: 'http',
            host: '127.0.0.1',
            port,
            path: c.servicePath,
          },
          route: c.route,
        }
        const result = await handleEvent(rpc, id, 'access', req)
        assert.equal(result.exit, undefined, result.logs.join('\n'))
        assert.equal(result.upstream.forwarded?.target, c.expected)
        const before = seen.length
        assert.equal(await forwardAsKong(result, req), 200, JSON.stringify(seen.at(-1)))
        const got = seen[before]
        assert.ok(got)
        assert.equal(got.url, c.expected)
        const host = c.route?.preserve_host ? 'API.Example.com:8000' : `127.0.0.1:${port}`
        assert.equal(got.host, host)
        const claims = await verified(result.setHeaders.jwt)
        const q = got.url.indexOf('?')
        assert.equal(claims.htm, got.method)
        assert.equal(
          claims.htu,
          `http://${host.toLowerCase()}${q === -1 ? got.url : got.url.slice(0, q)}`,
        )
        assert.equal(
          claims.htq,
          createHash('sha256')
            .update(q === -1 ? '' : got.url.slice(q + 1))
            .digest('base64url'),
        )
        // 4 calls, plus method, $upstream_uri, $args and $upstream_host; every one a method
        // Kong has (handleEvent refuses any other).
        assert.deepEqual(result.calls.map((call) => call.method).sort(), [
          'kong.client.get_consumer',
          'kong.nginx.get_var',
          'kong.nginx.get_var',
          'kong.request.get_headers',
          'kong.request.get_method',
          'kong.request.get_raw_query',
          'kong.router.get_service',
          'kong.service.request.set_header',
        ])
      })
    }

    test('changes made by plugins that ran before (path, query, Host) are in the binding', async () => {
      const id = await startInstance(rpc, { ...keys(), bind_request: true })
      const req: KongRequest = {
        method: 'POST',
        target: '/orders/42?x=1',
        headers: { host: 'client.example' },
        service: { id: 's-1', name: 'orders', host: '127.0.0.1', port, path: '/base' },
        route: { paths: ['/orders'] },
        earlier: { path: '/v2/orders 42', query: 'x=1&added=%C3%A9', host: 'orders.internal' },
      }
      const result = await handleEvent(rpc, id, 'access', req)
      assert.equal(result.upstream.forwarded?.target, '/v2/orders%2042?x=1&added=%C3%A9')
      assert.equal(await forwardAsKong(result, req), 200, JSON.stringify(seen.at(-1)))
      const claims = await verified(result.setHeaders.jwt)
      assert.equal(claims.htu, 'http://orders.internal/v2/orders%2042')
      assert.equal(claims.htq, createHash('sha256').update('x=1&added=%C3%A9').digest('base64url'))
    })

    test('the upstream refuses the token for a request changed on the way (the check can fail)', async () => {
      const id = await startInstance(rpc, { ...keys(), bind_request: true })
      const req: KongRequest = {
        target: '/orders/42?x=1',
        headers: {},
        service: { id: 's-1', name: 'orders', host: '127.0.0.1', port, path: '/base' },
        route: { paths: ['/orders'] },
      }
      const result = await handleEvent(rpc, id, 'access', req)
      const f = result.upstream.forwarded
      assert.ok(f)
      const changed = {
        ...result,
        upstream: { ...result.upstream, forwarded: { ...f, target: '/base/42?x=2' } },
      }
      assert.equal(await forwardAsKong(changed, req), 401)
      assert.equal(seen.at(-1)?.error, 'ERR_BINDING_MISMATCH')
    })

    test('with audience set the service is still read once; the body adds one call', async () => {
      const id = await startInstance(rpc, { ...keys(), bind_request: true, audience: 'orders' })
      const req: KongRequest = {
        method: 'POST',
        target: '/orders',
        headers: { 'content-length': String(BODY.length) },
        body: BODY,
        service: { id: 's-1', name: 'orders', host: '127.0.0.1', port },
        route: { paths: ['/orders'] },
      }
      const result = await handleEvent(rpc, id, 'access', req)
      assert.equal(result.calls.length, 9, result.calls.map((c) => c.method).join())
      assert.equal(result.calls.filter((c) => c.method === 'kong.router.get_service').length, 1)
      assert.equal(await forwardAsKong(result, req), 200)
      assert.equal((await verified(result.setHeaders.jwt)).htu, `http://127.0.0.1:${port}/`)
    })

    test('a route without a service: 500, never a token without binding', async () => {
      const id = await startInstance(rpc, { ...keys(), bind_request: true })
      const result = await handleEvent(rpc, id, 'access', { method: 'GET', headers: {} })
      assert.equal(result.exit?.status, 500)
      assert.deepEqual(result.setHeaders, {})
      assert.match(
        result.logs.join('\n'),
        /bind_request: Kong gave no method, upstream URI or service/,
      )
    })
  })

  test('the test Kong side answers only PDK methods Kong has', async () => {
    const known = await kongPdkMethods()
    for (const method of Object.keys(ANSWERS)) assert.ok(known.has(method), method)
    assert.ok(!known.has('kong.service.request.get_scheme'))
  })

  test('a plugin calling a PDK method Kong lacks fails the event with the method name', async (t) => {
    const badDir = join(dir, 'bad-plugins')
    await mkdir(badDir)
    await writeFile(
      join(badDir, 'bad-pdk.js'),
      `class Plugin {
  async access(kong) {
    const scheme = await kong.service.request.getScheme()
    await kong.service.request.set_header('x-scheme', String(scheme))
  }
}
module.exports = { Plugin, Name: 'bad-pdk', Version: '0.0.0', Priority: 1, Schema: [] }
`,
    )
    const prefix = join(dir, 'bad-prefix')
    await mkdir(prefix)
    const badServer = await startPluginServer(badDir, prefix)
    servers.push(badServer)
    const badRpc = await KongRpc.connect(badServer.socket)
    t.after(() => badRpc.close())
    const status = (await badRpc.call('plugin.StartInstance', {
      Name: 'bad-pdk',
      Config: '{}',
    })) as { Id: number }
    await assert.rejects(
      handleEvent(badRpc, status.Id, 'access', { headers: {} }),
      /PDK methods Kong does not have: kong\.service\.request\.get_scheme$/,
    )
  })

  for (const mode of ['http-signature', 'both'] as const) {
    test(`signature_mode ${mode}: every header in one set_headers call; http-message-signatures and our verifier accept them`, async () => {
      const id = await startInstance(rpc, { ...keys(), issuer: 'kong', signature_mode: mode })
      // Kong forwards https://orders.internal:8443/v1/orders?a=1&b=%2F
      const result = await handleEvent(rpc, id, 'access', {
        method: 'POST',
        target: '/orders?a=1&b=%2F',
        headers: { 'content-length': String(BODY.length), 'content-type': 'application/json' },
        body: BODY,
        service: {
          id: 's-1',
          name: 'orders',
          protocol: 'https',
          host: 'orders.internal',
          port: 8443,
          path: '/v1',
        },
        route: { paths: ['/orders'], strip_path: false },
      })
      assert.equal(result.exit, undefined, result.logs.join('\n'))
      const sets = result.calls.filter((c) => c.method.startsWith('kong.service.request.set_'))
      assert.deepEqual(
        sets.map((c) => c.method),
        ['kong.service.request.set_headers'],
      )
      const names = Object.keys(result.setHeaders).sort()
      assert.deepEqual(
        names,
        mode === 'both'
          ? ['content-digest', 'jwt', 'signature', 'signature-input']
          : ['content-digest', 'signature', 'signature-input'],
      )
      const url = 'https://orders.internal:8443/v1/orders?a=1&b=%2F'
      const upstreamHeaders = { ...result.setHeaders, 'content-type': 'application/json' }
      const kid = jwkThumbprint(pki.leaf.cert.publicKey)
      const theirs = await httpbis.verifyMessage(
        {
          keyLookup: async (p) =>
            p.keyid === kid
              ? {
                  id: kid,
                  algs: ['ecdsa-p256-sha256'],
                  verify: theirVerifier(pki.leaf.cert.publicKey, 'ecdsa-p256-sha256'),
                }
              : null,
          requiredFields: ['@method', '@target-uri', 'content-digest', 'content-type'],
        },
        { method: 'POST', url, headers: upstreamHeaders },
      )
      assert.equal(theirs, true)
      const ours = createVerifier({
        ca: pki.files.rootPem,
        ...(mode === 'http-signature' ? { pinned: [pki.files.chain] } : {}),
        issuer: 'kong',
        audience: 'orders',
        signatureMode: mode,
      })
      const verified = await ours.verify({
        headers: upstreamHeaders,
        method: 'POST',
        url,
        body: BODY,
      })
      assert.equal(verified.httpSignature?.alg, 'ecdsa-p256-sha256')
      await assert.rejects(
        ours.verify({ headers: upstreamHeaders, method: 'POST', url, body: Buffer.from('{}') }),
        { code: 'ERR_BODY_HASH_MISMATCH' },
      )
    })
  }

  for (const mode of ['jwt', 'http-signature', 'both'] as const) {
    test(`signature_mode ${mode}: a client's JWT, Signature, Signature-Input and Content-Digest never reach the upstream`, async () => {
      const id = await startInstance(rpc, { ...keys(), issuer: 'kong', signature_mode: mode })
      const forged = {
        JWT: 'forged.client.token',
        Signature: 'sig9=:AAAA:',
        'Signature-Input': 'sig9=("@method");created=1;keyid="x"',
        'Content-Digest': 'sha-256=:AAAA:',
      }
      const req: KongRequest = {
        method: 'POST',
        target: '/orders',
        headers: { ...forged, 'content-length': String(BODY.length) },
        body: BODY,
        service: { id: 's-1', name: 'orders', protocol: 'http', host: 'orders.internal' },
        route: { paths: ['/orders'], strip_path: false },
      }
      const result = await handleEvent(rpc, id, 'access', req)
      assert.equal(result.exit, undefined, result.logs.join('\n'))
      const sent = forwardedHeaders(result, req)
      for (const [name, value] of Object.entries(forged)) {
        assert.notEqual(sent[name.toLowerCase()], value, `client's ${name} passed through`)
      }
      const expected =
        mode === 'jwt'
          ? ['jwt']
          : mode === 'both'
            ? ['content-digest', 'jwt', 'signature', 'signature-input']
            : ['content-digest', 'signature', 'signature-input']
      const present = ['content-digest', 'jwt', 'signature', 'signature-input'].filter(
        (n) => sent[n] !== undefined,
      )
      assert.deepEqual(present, expected)
    })
  }

  test('KONG_SSL_CERT_KEY / KONG_SSL_CERT_DER win over the config, as in the original', async (t) => {
    const other = await writeKeys(dir, 'RS256', { name: 'env' })
    const prefix = join(dir, 'env-prefix')
    await mkdir(prefix)
    const envServer = await startPluginServer(pluginsDir, prefix, {
      KONG_SSL_CERT_KEY: other.key,
      KONG_SSL_CERT_DER: other.certDer,
    })
    servers.push(envServer)
    const envRpc = await KongRpc.connect(envServer.socket)
    t.after(() => envRpc.close())
    const id = await startInstance(envRpc, {
      private_key_location: '/nowhere/key.pem',
      public_key_location: '/nowhere/cert.cer',
    })
    const result = await handleEvent(envRpc, id, 'access', { headers: {} })
    await verified(result.setHeaders.jwt, 'RS256', other.cert.toString())
  })

  test('`kong install` writes the self-contained plugin file (or with --link a require); `kong config` prints the settings', async () => {
    const target = join(dir, 'installed')
    const env = { PATH: `${dirname(PLUGIN_SERVER)}:${process.env.PATH ?? ''}` }
    const r = await cli(['kong', 'install', '--plugins-dir', target], { env })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.match(
      r.stdout,
      new RegExp(
        `^pluginserver_js_start_cmd = ${PLUGIN_SERVER} --plugins-directory ${target} `,
        'm',
      ),
    )
    const file = await readFile(join(target, 'kong-upstream-jwt.js'), 'utf8')
    assert.match(
      file,
      /^\/\/ kong-upstream-jwt \d+\.\d+\.\d+: Kong plugin for kong-js-pluginserver, self-contained/,
    )
    assert.doesNotMatch(file, /require\("(?!node:)[^"]*"\)/, 'only Node built-ins are required')
    const { stdout } = await exec(PLUGIN_NODE, [
      PLUGIN_SERVER,
      '--plugins-directory',
      target,
      '--dump-all-plugins',
    ])
    assert.equal(JSON.parse(stdout)[0].Name, 'kong-upstream-jwt')

    const linked = join(dir, 'linked')
    assert.equal(
      (await cli(['kong', 'install', '--plugins-dir', linked, '--link'], { env })).code,
      0,
    )
    assert.match(
      await readFile(join(linked, 'kong-upstream-jwt.js'), 'utf8'),
      /^module\.exports = require\(".*dist\/kong\/plugin\.cjs"\)$/m,
    )
    const dump = await exec(PLUGIN_NODE, [
      PLUGIN_SERVER,
      '--plugins-directory',
      linked,
      '--dump-all-plugins',
    ])
    assert.equal(JSON.parse(dump.stdout)[0].Priority, 790)

    const conf = await cli([
      'kong',
      'config',
      '--plugins-dir',
      '/opt/kong/plugins',
      '--pluginserver',
      PLUGIN_SERVER,
    ])
    assert.match(conf.stdout, /^plugins = bundled,kong-upstream-jwt$/m)
    assert.match(conf.stdout, /^pluginserver_names = js$/m)
    assert.match(
      conf.stdout,
      new RegExp(
        `^pluginserver_js_query_cmd = ${PLUGIN_SERVER} --plugins-directory /opt/kong/plugins --dump-all-plugins$`,
        'm',
      ),
    )
    assert.match(conf.stdout, /^nginx_http_client_body_buffer_size = 1m$/m)
  })

  test('`kong config` says clearly when kong-js-pluginserver is not installed; --pluginserver must exist', async () => {
    const r = await cli(['kong', 'config'], { env: { PATH: join(dir, 'empty-path') } })
    assert.equal(r.code, 0)
    assert.match(
      r.stderr,
      /kong-js-pluginserver is not installed \(not on PATH, not in npm's global prefix\); install it with: npm install -g kong-pdk@0\.6\.0/,
    )
    const bad = await cli([
      'kong',
      'install',
      '--plugins-dir',
      join(dir, 'x'),
      '--pluginserver',
      join(dir, 'nope'),
    ])
    assert.equal(bad.code, 1)
    assert.match(
      bad.stderr,
      /ERR_PLUGINSERVER_NOT_FOUND: --pluginserver .*nope: no executable file there/,
    )
  })
})
