import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError } from '../../src/core/errors.js'
import { resolveOptions } from '../../src/options/resolve.js'
import { OPTIONS } from '../../src/options/table.js'

const noEnv = { env: {} }

test('defaults match the original plugin for its six fields', () => {
  const o = resolveOptions({}, noEnv)
  assert.equal(o.header, 'JWT')
  assert.equal(o.include_credential_type, false)
  assert.equal(o.issuer, undefined)
  assert.equal(o.private_key_location, undefined)
  assert.equal(o.public_key_location, undefined)
  assert.equal(o.key_id, undefined)
})

test('defaults of the new options', () => {
  const o = resolveOptions(undefined, noEnv)
  assert.deepEqual(
    {
      algorithm: o.algorithm,
      token_ttl: o.token_ttl,
      x5c: o.x5c,
      x5c_encoding: o.x5c_encoding,
      include_iat: o.include_iat,
      include_nbf: o.include_nbf,
      include_x5t_s256: o.include_x5t_s256,
      typ: o.typ,
      payload_hash: o.payload_hash,
      bind_request: o.bind_request,
      subject: o.subject,
      key_reload_interval: o.key_reload_interval,
    },
    {
      algorithm: 'RS256',
      token_ttl: 60,
      x5c: 'chain',
      x5c_encoding: 'base64',
      include_iat: true,
      include_nbf: false,
      include_x5t_s256: false,
      typ: 'JWT',
      payload_hash: true,
      bind_request: false,
      subject: 'none',
      key_reload_interval: 5,
    },
  )
})

test('null means unset, as in a Kong plugin config', () => {
  const o = resolveOptions({ header: null, issuer: null, token_ttl: null }, noEnv)
  assert.equal(o.header, 'JWT')
  assert.equal(o.issuer, undefined)
  assert.equal(o.token_ttl, 60)
})

test('an unknown option is refused with the list of known ones', () => {
  assert.throws(
    () => resolveOptions({ issuer: 'x', private_key_locaton: '/k' }, noEnv),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      assert.equal(err.code, 'ERR_OPTION_UNKNOWN')
      assert.equal(err.option, 'private_key_locaton')
      assert.match(err.message, /unknown option "private_key_locaton"/)
      for (const name of Object.keys(OPTIONS)) assert.ok(err.message.includes(name), name)
      return true
    },
  )
})

test('keys the caller ignores (Kong metadata) are skipped', () => {
  const o = resolveOptions(
    { __key__: 'k', __seq__: 1, __plugin_id: 'p', header: 'X-JWT' },
    { env: {}, ignore: (k) => k.startsWith('__') },
  )
  assert.equal(o.header, 'X-JWT')
})

const invalid: [string, Record<string, unknown>, RegExp][] = [
  ['string type', { issuer: 42 }, /option "issuer" must be a string \(got 42\)/],
  ['empty string', { issuer: '' }, /option "issuer" must not be empty \(got ""\)/],
  [
    'boolean type',
    { include_credential_type: 'yes' },
    /option "include_credential_type" must be true or false \(got "yes"\)/,
  ],
  ['integer type', { token_ttl: 1.5 }, /option "token_ttl" must be an integer \(got 1.5\)/],
  ['integer range', { token_ttl: 0 }, /option "token_ttl" must be between 1 and 86400 \(got 0\)/],
  [
    'enum',
    { algorithm: 'HS256' },
    /option "algorithm" must be one of RS256, .*EdDSA \(got "HS256"\)/,
  ],
  ['enum is case-sensitive', { algorithm: 'eddsa' }, /option "algorithm" must be one of/],
  ['header name', { header: 'Bad Header' }, /option "header" must be a valid HTTP header name/],
  [
    'map type',
    { headers_to_claims: { 'x-a': 1 } },
    /option "headers_to_claims" must be a map of strings to strings/,
  ],
  [
    'map header key',
    { headers_to_claims: { 'bad header': 'c' } },
    /key "bad header" must be a valid HTTP header name/,
  ],
  [
    'reserved claim via header',
    { headers_to_claims: { 'x-sub': 'sub' } },
    /claim "sub" is set by the signer/,
  ],
  [
    'reserved static claim',
    { claims: { payloadhash: 'forged' } },
    /claim "payloadhash" is set by the signer/,
  ],
  [
    '__proto__ claim',
    JSON.parse('{"claims":{"__proto__":{"polluted":true}}}'),
    /claim name "__proto__" is not allowed/,
  ],
  [
    'record must be JSON',
    { claims: { a: Number.NaN } },
    /option "claims" must be a map of names to JSON values/,
  ],
  [
    'record must be an object',
    { claims: ['a'] },
    /option "claims" must be a map of names to JSON values/,
  ],
]

for (const [name, input, message] of invalid) {
  test(`invalid value: ${name}`, () => {
    assert.throws(
      () => resolveOptions(input, noEnv),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(err.code, 'ERR_OPTION_INVALID')
        assert.equal(err.option, Object.keys(input)[0])
        assert.match(err.message, message)
        return true
      },
    )
  })
}

test('a secret value is never shown in an error', () => {
  assert.throws(
    () => resolveOptions({ private_key_passphrase: 12345678 }, noEnv),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      assert.doesNotMatch(err.message, /12345678/)
      assert.match(err.message, /value hidden/)
      return true
    },
  )
})

test('environment variables win over the config, as in the original', () => {
  const o = resolveOptions(
    { private_key_location: '/conf/key.pem', public_key_location: '/conf/cert.cer' },
    { env: { KONG_SSL_CERT_KEY: '/env/key.pem', KONG_SSL_CERT_DER: '/env/cert.cer' } },
  )
  assert.equal(o.private_key_location, '/env/key.pem')
  assert.equal(o.public_key_location, '/env/cert.cer')
})

test('an empty environment variable does not override', () => {
  const o = resolveOptions(
    { private_key_location: '/conf/key.pem' },
    { env: { KONG_SSL_CERT_KEY: '' } },
  )
  assert.equal(o.private_key_location, '/conf/key.pem')
})

test('resolved options are frozen and copies of the input maps', () => {
  const claims = { tenant: { id: 1 } }
  const o = resolveOptions({ claims }, noEnv)
  claims.tenant.id = 2
  assert.deepEqual(o.claims, { tenant: { id: 1 } })
  assert.ok(Object.isFrozen(o))
})

test('options input must be an object', () => {
  assert.throws(() => resolveOptions('issuer=x', noEnv), { code: 'ERR_OPTION_INVALID' })
})
