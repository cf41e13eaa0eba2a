import assert from 'node:assert/strict'
import { test } from 'node:test'
import { effectivePlugin, GatewayConfigError, parseConfig } from '../../src/gateway/config.js'
import { Router } from '../../src/gateway/router.js'

const signed = [{ name: 'kong-upstream-jwt', config: { x5c: 'none' } }]
const base = (extra: Record<string, unknown> = {}) => ({
  _format_version: '3.0',
  plugins: signed,
  ...extra,
})

function refused(input: unknown, message: RegExp) {
  assert.throws(
    () => parseConfig(input),
    (err: unknown) => {
      assert.ok(err instanceof GatewayConfigError, String(err))
      assert.match(err.message, message)
      return true
    },
  )
}

test('services from url or parts, with Kong defaults', () => {
  const c = parseConfig(
    base({
      services: [
        { name: 'a', url: 'https://a.internal:8443/base', routes: [{ paths: ['/a'] }] },
        { name: 'b', host: 'b.internal', routes: [{ paths: ['/b'] }] },
      ],
    }),
  )
  const [a, b] = c.services
  assert.deepEqual([a?.protocol, a?.host, a?.port, a?.path], ['https', 'a.internal', 8443, '/base'])
  assert.deepEqual(
    [
      b?.protocol,
      b?.port,
      b?.path,
      b?.connect_timeout,
      b?.read_timeout,
      b?.write_timeout,
      b?.retries,
    ],
    ['http', 80, '/', 60000, 60000, 60000, 5],
  )
  assert.equal(c.routes[0]?.strip_path, true)
  assert.equal(c.routes[0]?.preserve_host, false)
  assert.match(c.routes[0]?.id ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-5/)
})

test('unknown fields, plugins and references are refused by name', () => {
  refused(
    base({ services: [{ name: 's', url: 'http://x', timeout: 5 }] }),
    /service s: unknown field "timeout"/,
  )
  refused(
    base({ services: [{ name: 's', url: 'http://x', routes: [{ paths: ['/'], hots: ['a'] }] }] }),
    /unknown field "hots"/,
  )
  refused(
    base({
      services: [{ name: 's', url: 'http://x', routes: [{ paths: ['/'] }] }],
      plugins: [...signed, { name: 'rate-limiting' }],
    }),
    /runs only the kong-upstream-jwt and key-auth plugins/,
  )
  refused(
    base({ routes: [{ paths: ['/'], service: 'missing' }] }),
    /service "missing" is not defined/,
  )
  refused({ _format_version: '3.0', upstreams: [] }, /the configuration: unknown field "upstreams"/)
  refused({ services: [] }, /_format_version/)
  refused(
    base({ services: [{ name: 's', url: 'http://x', routes: [{ paths: ['nope'] }] }] }),
    /must start with \//,
  )
  refused(
    base({ services: [{ name: 's', url: 'http://x', routes: [{ paths: ['~/(unclosed'] }] }] }),
    /not a valid regular expression/,
  )
  refused(
    base({ services: [{ name: 's', url: 'http://x', routes: [{ name: 'empty' }] }] }),
    /route empty: needs at least one of paths, hosts or methods/,
  )
})

test('the plugin config is checked with the options table', () => {
  refused(
    {
      _format_version: '3.0',
      services: [{ name: 's', url: 'http://x', routes: [{ paths: ['/'] }] }],
      plugins: [{ name: 'kong-upstream-jwt', config: { algorithm: 'HS256' } }],
    },
    /plugin kong-upstream-jwt \(global\): option "algorithm" must be one of/,
  )
})

test('fail closed: a route without an enabled signing plugin refuses the configuration', () => {
  refused(
    {
      _format_version: '3.0',
      services: [{ name: 's', url: 'http://x', routes: [{ name: 'r', paths: ['/'] }] }],
    },
    /route r: no enabled kong-upstream-jwt plugin applies/,
  )
  refused(
    {
      _format_version: '3.0',
      services: [
        {
          name: 's',
          url: 'http://x',
          routes: [
            { name: 'r', paths: ['/'], plugins: [{ name: 'kong-upstream-jwt', enabled: false }] },
          ],
        },
      ],
      plugins: signed,
    },
    /route r: no enabled kong-upstream-jwt plugin applies/,
  )
})

test('the most specific plugin wins: route, then service, then global', () => {
  const c = parseConfig({
    _format_version: '3.0',
    services: [
      {
        name: 's',
        url: 'http://x',
        plugins: [{ name: 'kong-upstream-jwt', config: { header: 'X-Service' } }],
        routes: [
          {
            name: 'r1',
            paths: ['/1'],
            plugins: [{ name: 'kong-upstream-jwt', config: { header: 'X-Route' } }],
          },
          { name: 'r2', paths: ['/2'] },
        ],
      },
      { name: 't', url: 'http://y', routes: [{ name: 'r3', paths: ['/3'] }] },
    ],
    plugins: [{ name: 'kong-upstream-jwt', config: { header: 'X-Global' } }],
  })
  const header = (name: string) =>
    effectivePlugin(c, c.routes.find((r) => r.name === name)!, 'kong-upstream-jwt')?.config.header
  assert.deepEqual([header('r1'), header('r2'), header('r3')], ['X-Route', 'X-Service', 'X-Global'])
})

test('consumers with key-auth credentials; a key used twice is refused', () => {
  const c = parseConfig(
    base({
      services: [{ name: 's', url: 'http://x', routes: [{ paths: ['/'] }] }],
      consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'k1' }] }],
    }),
  )
  assert.deepEqual(c.consumers[0]?.keys, ['k1'])
  refused(
    base({
      services: [],
      consumers: [
        { username: 'a', keyauth_credentials: [{ key: 'k' }] },
        { username: 'b', keyauth_credentials: [{ key: 'k' }] },
      ],
    }),
    /key-auth key is used twice/,
  )
})

const routerFor = (routes: Record<string, unknown>[], servicePath = '/') =>
  new Router(
    parseConfig(base({ services: [{ name: 's', url: `http://up${servicePath}`, routes }] })),
  )

test('router: longest prefix wins; strip_path; Kong v0 path joining', () => {
  const r = routerFor([
    { name: 'short', paths: ['/api'] },
    { name: 'long', paths: ['/api/orders'] },
    { name: 'keep', paths: ['/keep'], strip_path: false },
  ])
  assert.equal(r.match('GET', 'h', '/api/orders/1')?.route.name, 'long')
  assert.equal(r.match('GET', 'h', '/api/orders/1')?.upstreamPath, '/1')
  assert.equal(r.match('GET', 'h', '/api')?.upstreamPath, '/')
  assert.equal(
    r.match('GET', 'h', '/apix')?.route.name,
    'short',
    'Kong prefixes are plain string prefixes',
  )
  assert.equal(r.match('GET', 'h', '/keep/x')?.upstreamPath, '/keep/x')
  assert.equal(r.match('GET', 'h', '/other'), undefined)
  assert.equal(
    routerFor([{ paths: ['/api'] }], '/base').match('GET', 'h', '/api/x')?.upstreamPath,
    '/base/x',
  )
})

test('router: the upstream path follows Kong (service path, trailing slashes, path_handling v1)', () => {
  const base = routerFor(
    [
      { name: 'strip', paths: ['/api'] },
      { name: 'keep', paths: ['/keep'], strip_path: false },
      { name: 'v1', paths: ['/v1'], path_handling: 'v1' },
    ],
    '/base',
  )
  assert.equal(base.match('GET', 'h', '/api')?.upstreamPath, '/base')
  assert.equal(base.match('GET', 'h', '/api/')?.upstreamPath, '/base/')
  assert.equal(base.match('GET', 'h', '/apix')?.upstreamPath, '/base/x')
  assert.equal(base.match('GET', 'h', '/keep/x')?.upstreamPath, '/base/keep/x')
  assert.equal(base.match('GET', 'h', '/v1x')?.upstreamPath, '/basex', 'v1 joins without a slash')
  const slash = routerFor([{ name: 'strip', paths: ['/api'] }], '/base/')
  assert.equal(slash.match('GET', 'h', '/api')?.upstreamPath, '/base')
  assert.equal(slash.match('GET', 'h', '/api/x')?.upstreamPath, '/base/x')
  assert.throws(
    () => routerFor([{ paths: ['/a'], path_handling: 'v2' }]),
    /path_handling must be v0 or v1/,
  )
})

test('router: regex paths before prefixes, by regex_priority then order; strip removes the match', () => {
  const r = routerFor([
    { name: 'prefix', paths: ['/orders/42/items'] },
    { name: 'low', paths: ['~/orders/\\d+'], regex_priority: 1 },
    { name: 'high', paths: ['~/orders/(?<id>\\d+)$'], regex_priority: 5 },
  ])
  assert.equal(r.match('GET', 'h', '/orders/42')?.route.name, 'high')
  assert.equal(r.match('GET', 'h', '/orders/42/items')?.route.name, 'low')
  assert.equal(r.match('GET', 'h', '/orders/42/items')?.upstreamPath, '/items')
  assert.equal(r.match('GET', 'h', '/x/orders/42'), undefined, 'regexes are anchored at the start')
})

test('router: hosts (exact, wildcards, with port) and methods narrow the match; more constraints win', () => {
  const r = routerFor([
    { name: 'any', paths: ['/'] },
    { name: 'api-host', hosts: ['api.example.com'], paths: ['/'] },
    { name: 'wild', hosts: ['*.example.org'], paths: ['/'] },
    { name: 'suffix-wild', hosts: ['internal.*'], paths: ['/'] },
    { name: 'posts', methods: ['POST'], hosts: ['api.example.com'], paths: ['/'] },
  ])
  assert.equal(r.match('GET', 'API.example.com:8000', '/x')?.route.name, 'api-host')
  assert.equal(r.match('POST', 'api.example.com', '/x')?.route.name, 'posts')
  assert.equal(r.match('GET', 'a.b.example.org', '/x')?.route.name, 'wild')
  assert.equal(r.match('GET', 'example.org', '/x')?.route.name, 'any')
  assert.equal(r.match('GET', 'internal.corp', '/')?.route.name, 'suffix-wild')
  assert.equal(r.match('GET', 'other', '/')?.route.name, 'any')
})
