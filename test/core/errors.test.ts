import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  BodyError,
  ConfigError,
  KeyError,
  SigningError,
  TokenFormatError,
  UpstreamJwtError,
} from '../../src/core/errors.js'

test('each error has its class name, stable code and HTTP status', () => {
  const cases = [
    [
      new ConfigError('ERR_OPTION_INVALID', 'header', 'm'),
      'ConfigError',
      'ERR_OPTION_INVALID',
      500,
    ],
    [new KeyError('ERR_KEY_MISMATCH', 'm', '/k'), 'KeyError', 'ERR_KEY_MISMATCH', 500],
    [new SigningError('m'), 'SigningError', 'ERR_SIGNING_FAILED', 500],
    [
      new BodyError('ERR_BODY_TOO_LARGE', 'm', { limit: 1 }),
      'BodyError',
      'ERR_BODY_TOO_LARGE',
      413,
    ],
    [new BodyError('ERR_BODY_READ', 'm'), 'BodyError', 'ERR_BODY_READ', 400],
    [new TokenFormatError('m'), 'TokenFormatError', 'ERR_TOKEN_MALFORMED', 401],
  ] as const
  for (const [err, name, code, status] of cases) {
    assert.equal(err.name, name)
    assert.equal(err.code, code)
    assert.equal(err.status, status)
    assert.ok(err instanceof UpstreamJwtError)
    assert.ok(err instanceof Error)
    assert.deepEqual(JSON.parse(JSON.stringify(err)), { code, status, message: 'm' })
  }
})

test('instanceof tells subclasses apart', () => {
  const err = new KeyError('ERR_KEY_INVALID', 'm')
  assert.equal(err instanceof ConfigError, false)
  assert.equal(new Error('x') instanceof UpstreamJwtError, false)
  assert.equal((null as unknown as object) instanceof UpstreamJwtError, false)
})

test('instanceof works across two copies of the package (brand, not prototype)', () => {
  // A structurally separate class with the same names stands in for a second copy.
  const kinds = Symbol.for('kong-upstream-jwt.error.kinds')
  const foreign = Object.assign(new Error('m'), { code: 'ERR_KEY_INVALID' })
  Object.defineProperty(foreign, kinds, { value: new Set(['KeyError', 'UpstreamJwtError']) })
  assert.ok(foreign instanceof KeyError)
  assert.ok(foreign instanceof UpstreamJwtError)
  assert.equal(foreign instanceof ConfigError, false)
})

test('the cause is kept for debugging', () => {
  const cause = new Error('low level')
  assert.equal(new SigningError('m', { cause }).cause, cause)
})
