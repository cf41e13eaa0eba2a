import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import { queryHash, requestUri } from '../../src/core/binding.js'
import { digestBytes } from '../../src/core/body-digest.js'
import { SigningError } from '../../src/core/errors.js'
import { resolveOptions } from '../../src/options/resolve.js'
import { RESERVED_CLAIMS, type SignerOptions } from '../../src/options/table.js'
import { buildClaims } from '../../src/signer/claims.js'
import type { RequestFacts } from '../../src/signer/facts.js'

const NOW = 1_700_000_000
const JTI = '1b4e28ba-2fa1-4d2e-883f-0016d3cca427'
const claimsFor = (facts: RequestFacts, options: SignerOptions = {}) =>
  buildClaims(facts, resolveOptions(options, { env: {} }), { now: NOW, jti: JTI })
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

test('no body: payloadhash is "" as in the original', () => {
  assert.equal(claimsFor({}).payloadhash, '')
  assert.equal(claimsFor({ body: null }).payloadhash, '')
})

test('empty body: payloadhash is "" (nginx gives no body data for it)', () => {
  assert.equal(claimsFor({ body: digestBytes('') }).payloadhash, '')
})

test('1 byte, binary and 10 MiB bodies hash to their SHA-256', () => {
  const binary = Buffer.from([0, 255, 1, 254, 0x80, 0x0a, 0x0d])
  const big = randomBytes(10 * 1024 * 1024)
  assert.equal(claimsFor({ body: digestBytes('a') }).payloadhash, sha256('a'))
  assert.equal(claimsFor({ body: digestBytes(binary) }).payloadhash, sha256(binary))
  assert.equal(claimsFor({ body: digestBytes(big) }).payloadhash, sha256(big))
})

test('the default claims, in order', () => {
  const claims = claimsFor({
    service: { name: 'orders', id: 's1' },
    consumer: { id: 'c1', username: 'alice' },
    body: digestBytes('x'),
  })
  assert.deepEqual(Object.entries(claims), [
    ['aud', 'orders'],
    ['iat', NOW],
    ['exp', NOW + 60],
    ['jti', JTI],
    ['consumerid', 'c1'],
    ['consumername', 'alice'],
    ['payloadhash', sha256('x')],
  ])
})

test('no consumer and no service: no consumer claims and no aud', () => {
  const claims = claimsFor({ consumer: null, service: null })
  assert.deepEqual(Object.keys(claims), ['iat', 'exp', 'jti', 'payloadhash'])
})

test('a consumer without username (only custom_id) has no consumername', () => {
  const claims = claimsFor({ consumer: { id: 'c1', custom_id: 'x' } })
  assert.equal(claims.consumerid, 'c1')
  assert.equal('consumername' in claims, false)
})

test('issuer sets iss', () => {
  assert.equal(claimsFor({}, { issuer: 'kong-gw' }).iss, 'kong-gw')
})

test('audience overrides the service name', () => {
  assert.equal(
    claimsFor({ service: { name: 'orders' } }, { audience: 'urn:orders' }).aud,
    'urn:orders',
  )
})

test('token_ttl sets exp', () => {
  assert.equal(claimsFor({}, { token_ttl: 5 }).exp, NOW + 5)
})

test('include_iat off omits iat; include_nbf adds nbf = now', () => {
  assert.equal('iat' in claimsFor({}, { include_iat: false }), false)
  assert.equal(claimsFor({}, { include_nbf: true }).nbf, NOW)
})

test('payload_hash off omits the claim', () => {
  assert.equal(
    'payloadhash' in claimsFor({ body: digestBytes('x') }, { payload_hash: false }),
    false,
  )
})

test('subject from the consumer', () => {
  const consumer = { id: 'c1', username: 'alice', custom_id: 'ext-9' }
  assert.equal(claimsFor({ consumer }, { subject: 'consumer_id' }).sub, 'c1')
  assert.equal(claimsFor({ consumer }, { subject: 'consumer_username' }).sub, 'alice')
  assert.equal(claimsFor({ consumer }, { subject: 'consumer_custom_id' }).sub, 'ext-9')
  assert.equal('sub' in claimsFor({ consumer }), false)
  assert.equal('sub' in claimsFor({}, { subject: 'consumer_id' }), false)
})

test('bind_request adds htm, htu (RFC 9449, no query) and htq', () => {
  const claims = claimsFor(
    {
      method: 'post',
      scheme: 'HTTPS',
      host: 'API.example.com:443',
      path: '/v1/orders',
      query: 'a=1&b=%20',
    },
    { bind_request: true },
  )
  assert.equal(claims.htm, 'POST')
  assert.equal(claims.htu, 'https://api.example.com/v1/orders')
  assert.equal(claims.htq, createHash('sha256').update('a=1&b=%20').digest('base64url'))
})

test('bind_request without the request line is a signing error, not a token without binding', () => {
  assert.throws(
    () => claimsFor({ method: 'GET' }, { bind_request: true }),
    (err: unknown) => {
      assert.ok(err instanceof SigningError)
      return true
    },
  )
})

test('requestUri normalises scheme, host and default ports only', () => {
  assert.equal(requestUri('http', 'a.example:80', '/p'), 'http://a.example/p')
  assert.equal(requestUri('http', 'a.example:8080', '/p'), 'http://a.example:8080/p')
  assert.equal(requestUri('https', 'a.example:80', '/p'), 'https://a.example:80/p')
  assert.equal(requestUri('http', '[::1]:80', '/p?q#f'), 'http://[::1]/p')
  assert.equal(requestUri('http', '[::1]', ''), 'http://[::1]/')
  assert.equal(requestUri('http', 'h', '/A%2Fb'), 'http://h/A%2Fb')
  assert.equal(queryHash(undefined), queryHash(''))
})

test('headers_to_claims copies present headers; several values are joined', () => {
  const claims = claimsFor(
    { headers: { 'x-request-id': 'r-1', 'x-tenant': ['a', 'b'] } },
    { headers_to_claims: { 'X-Request-ID': 'reqid', 'x-tenant': 'tenant', 'x-absent': 'absent' } },
  )
  assert.equal(claims.reqid, 'r-1')
  assert.equal(claims.tenant, 'a, b')
  assert.equal('absent' in claims, false)
})

test('static claims are added', () => {
  const claims = claimsFor({}, { claims: { env: 'prod', roles: ['a'], nested: { n: 1 } } })
  assert.equal(claims.env, 'prod')
  assert.deepEqual(claims.roles, ['a'])
  assert.deepEqual(claims.nested, { n: 1 })
})

const facts = fc.record(
  {
    method: fc.constantFrom('GET', 'POST', 'PUT', 'delete'),
    scheme: fc.constantFrom('http', 'https'),
    host: fc.domain(),
    path: fc.webPath().map((p) => `/${p.replace(/^\/+/, '')}`),
    query: fc.webQueryParameters(),
    body: fc.option(
      fc.uint8Array({ maxLength: 256 }).map((b) => digestBytes(b)),
      { nil: undefined },
    ),
    service: fc.option(fc.record({ name: fc.string({ minLength: 1 }) }), { nil: undefined }),
    consumer: fc.option(fc.record({ id: fc.uuid(), username: fc.string() }), { nil: undefined }),
    headers: fc.dictionary(fc.constantFrom('x-a', 'x-b'), fc.string()),
  },
  { requiredKeys: [] },
)
const options = fc.record(
  {
    issuer: fc.string({ minLength: 1 }),
    audience: fc.string({ minLength: 1 }),
    token_ttl: fc.integer({ min: 1, max: 86_400 }),
    include_iat: fc.boolean(),
    include_nbf: fc.boolean(),
    payload_hash: fc.boolean(),
    headers_to_claims: fc.constant({ 'x-a': 'a_claim' }),
    claims: fc.dictionary(
      fc.string({ minLength: 1 }).filter((k) => !RESERVED_CLAIMS.has(k) && k !== '__proto__'),
      fc.jsonValue(),
    ),
  },
  { requiredKeys: [] },
)

test('property: claims are JSON-exact, exp = now + ttl, and the registered claims follow the facts', () => {
  fc.assert(
    fc.property(facts, options, fc.boolean(), (f, o, bind) => {
      const resolved = resolveOptions(
        {
          ...o,
          bind_request:
            bind && f.host !== undefined && f.path !== undefined && f.method !== undefined,
        },
        { env: {} },
      )
      const c = buildClaims(f, resolved, { now: NOW, jti: JTI })
      assert.deepEqual(JSON.parse(JSON.stringify(c)), c)
      assert.equal(c.exp, NOW + resolved.token_ttl)
      assert.equal(c.jti, JTI)
      assert.equal(c.iss, resolved.issuer)
      assert.equal(c.aud, resolved.audience ?? f.service?.name)
      assert.equal(c.iat, resolved.include_iat ? NOW : undefined)
      assert.equal(c.consumerid, f.consumer?.id)
      if (resolved.payload_hash) {
        assert.equal(c.payloadhash, f.body && f.body.size > 0 ? f.body.sha256 : '')
      } else {
        assert.equal('payloadhash' in c, false)
      }
      if (resolved.bind_request) assert.equal(c.htm, f.method?.toUpperCase())
      for (const v of Object.values(c)) assert.notEqual(v, undefined)
    }),
    { numRuns: 300 },
  )
})
