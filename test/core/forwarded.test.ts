import assert from 'node:assert/strict'
import { test } from 'node:test'
import { requestUri } from '../../src/core/binding.js'
import {
  forwardedUri,
  kongUpstreamAuthority,
  kongUpstreamPath,
  type PathHandling,
} from '../../src/core/forwarded.js'

// [service path, route path (undefined: a route without paths), strip_path, path_handling,
//  request path, the path Kong sends] — worked out from Kong's router rules.
const PATHS: [string, string | undefined, boolean, PathHandling, string, string][] = [
  ['/', '/', true, 'v0', '/', '/'],
  ['/', '/', true, 'v0', '/a/b', '/a/b'],
  ['/', '/api', true, 'v0', '/api', '/'],
  ['/', '/api', true, 'v0', '/api/', '/'],
  ['/', '/api', true, 'v0', '/api/x', '/x'],
  ['/', '/api', true, 'v0', '/apix', '/x'],
  ['/', '/api', false, 'v0', '/api/x', '/api/x'],
  ['/base', '/api', true, 'v0', '/api', '/base'],
  ['/base', '/api', true, 'v0', '/api/', '/base/'],
  ['/base', '/api', true, 'v0', '/api/x', '/base/x'],
  ['/base', '/api', true, 'v0', '/apix', '/base/x'],
  ['/base', '/api', false, 'v0', '/api/x', '/base/api/x'],
  ['/base', '/', false, 'v0', '/', '/base'],
  ['/base/', '/api', true, 'v0', '/api', '/base'],
  ['/base/', '/api', true, 'v0', '/api/', '/base/'],
  ['/base/', '/api', true, 'v0', '/api/x', '/base/x'],
  ['/base/', '/api', false, 'v0', '/api/x', '/base/api/x'],
  ['/base', '/api/', true, 'v0', '/api/x', '/base/x'],
  ['/base', '/api', true, 'v0', '/api..', '/base'],
  ['/base', '/api', true, 'v0', '/api./x', '/base/x'],
  ['/base', undefined, true, 'v0', '/x', '/base/x'],
  ['/base', '/api', true, 'v1', '/api', '/base'],
  ['/base', '/api', true, 'v1', '/apix', '/basex'],
  ['/base', '/api', true, 'v1', '/api/x', '/base/x'],
  ['/base/', '/api', true, 'v1', '/api', '/base/'],
  ['/base/', '/api', true, 'v1', '/api/x', '/base/x'],
  ['/base', '/api', false, 'v1', '/api/x', '/baseapi/x'],
  ['/base/', '/api', false, 'v1', '/api/x', '/base/api/x'],
]

test('kongUpstreamPath follows Kong: strip_path, service path, trailing slashes, path_handling', () => {
  for (const [servicePath, route, stripPath, pathHandling, requestPath, expected] of PATHS) {
    const got = kongUpstreamPath({
      servicePath,
      requestPath,
      matched: route,
      stripPath,
      pathHandling,
    })
    assert.equal(
      got,
      expected,
      JSON.stringify({ servicePath, route, stripPath, pathHandling, requestPath }),
    )
  }
})

test('kongUpstreamPath: a regex match strips what the regex matched; no service path is /', () => {
  const m = /^\/orders\/\d+/.exec('/orders/42/items')?.[0]
  assert.equal(
    kongUpstreamPath({ requestPath: '/orders/42/items', matched: m, stripPath: true }),
    '/items',
  )
  assert.equal(kongUpstreamPath({ servicePath: null, requestPath: '/x', stripPath: false }), '/x')
})

test('kongUpstreamAuthority: the service host and non-default port, or the preserved Host', () => {
  assert.equal(kongUpstreamAuthority({ protocol: 'http', host: 'up', port: 80 }), 'up')
  assert.equal(kongUpstreamAuthority({ protocol: 'http', host: 'up', port: 443 }), 'up:443')
  assert.equal(kongUpstreamAuthority({ protocol: 'https', host: 'up', port: 443 }), 'up')
  assert.equal(kongUpstreamAuthority({ protocol: 'https', host: 'up', port: 80 }), 'up:80')
  assert.equal(kongUpstreamAuthority({ protocol: 'https', host: 'up' }), 'up')
  assert.equal(kongUpstreamAuthority({ host: 'up', port: 8080 }), 'up:8080')
  assert.equal(kongUpstreamAuthority({ host: 'up', port: 8080 }, ''), 'up:8080')
  assert.equal(kongUpstreamAuthority({ host: 'up' }, 'Api.Example:8000'), 'Api.Example:8000')
})

test('forwardedUri: lower-cased scheme and host, default port dropped, path and query as sent', () => {
  const t = { scheme: 'HTTPS', host: 'Api.Example:443', path: '/A%2fb/./c', query: 'x=%20&y' }
  assert.equal(forwardedUri(t), 'https://api.example/A%2fb/./c?x=%20&y')
  assert.equal(forwardedUri(t, { query: false }), 'https://api.example/A%2fb/./c')
  assert.equal(forwardedUri({ host: '[::1]:80', path: '' }), 'http://[::1]/')
  assert.equal(forwardedUri({ host: 'h:8080', path: '/p?ignored#f', query: '' }), 'http://h:8080/p')
  assert.equal(
    forwardedUri({ scheme: 'http', host: 'h', path: '/p', query: 'a=1' }, { query: false }),
    requestUri('http', 'h', '/p'),
    'htu is the forwarded URI without the query',
  )
})
