import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import {
  AlgorithmNotAllowedError,
  BindingMismatchError,
  BodyError,
  BodyHashMismatchError,
  CertificateError,
  ClaimInvalidError,
  ComponentNotCoveredError,
  ConfigError,
  ERRORS,
  type ErrorCode,
  GatewayConfigError,
  KeyError,
  SignatureInvalidError,
  SigningError,
  TokenExpiredError,
  TokenFormatError,
  TokenMissingError,
  TokenNotYetValidError,
  TokenReplayedError,
  UpstreamError,
  UpstreamJwtError,
  UsageError,
  VerifierUnavailableError,
} from '../../src/core/errors.js'
import { errorsMarkdownTable } from '../../src/core/errors-docs.js'

// How the code raises each error. Every code of the table must have an entry (a new code is
// added here too), and the error made must be of the class the table names, with its status.
const RAISED: Record<ErrorCode, () => UpstreamJwtError> = {
  ERR_OPTION_UNKNOWN: () => new ConfigError('ERR_OPTION_UNKNOWN', 'x', 'm'),
  ERR_OPTION_INVALID: () => new ConfigError('ERR_OPTION_INVALID', 'x', 'm'),
  ERR_KEY_NOT_FOUND: () => new KeyError('ERR_KEY_NOT_FOUND', 'm', '/k'),
  ERR_KEY_UNREADABLE: () => new KeyError('ERR_KEY_UNREADABLE', 'm', '/k'),
  ERR_KEY_INVALID: () => new KeyError('ERR_KEY_INVALID', 'm'),
  ERR_KEY_PASSPHRASE: () => new KeyError('ERR_KEY_PASSPHRASE', 'm'),
  ERR_KEY_MISMATCH: () => new KeyError('ERR_KEY_MISMATCH', 'm'),
  ERR_KEY_UNSUITABLE: () => new KeyError('ERR_KEY_UNSUITABLE', 'm'),
  ERR_CERT_INVALID: () => new KeyError('ERR_CERT_INVALID', 'm'),
  ERR_SIGNING_CERT_EXPIRED: () => new KeyError('ERR_SIGNING_CERT_EXPIRED', 'm'),
  ERR_SIGNING_CERT_NOT_YET_VALID: () => new KeyError('ERR_SIGNING_CERT_NOT_YET_VALID', 'm'),
  ERR_SIGNING_FAILED: () => new SigningError('m'),
  ERR_SIGNER_CLOSED: () => new SigningError('m', { code: 'ERR_SIGNER_CLOSED' }),
  ERR_BODY_TOO_LARGE: () => new BodyError('ERR_BODY_TOO_LARGE', 'm', { limit: 1 }),
  ERR_BODY_READ: () => new BodyError('ERR_BODY_READ', 'm'),
  ERR_BODY_UNAVAILABLE: () => new BodyError('ERR_BODY_UNAVAILABLE', 'm'),
  ERR_RAW_BODY_UNAVAILABLE: () => new BodyError('ERR_RAW_BODY_UNAVAILABLE', 'm'),
  ERR_TOKEN_MISSING: () => new TokenMissingError('m'),
  ERR_TOKEN_MALFORMED: () => new TokenFormatError('m'),
  ERR_ALG_NOT_ALLOWED: () => new AlgorithmNotAllowedError('m'),
  ERR_SIGNATURE_INVALID: () => new SignatureInvalidError('m'),
  ERR_CERT_UNTRUSTED: () => new CertificateError('ERR_CERT_UNTRUSTED', 'm'),
  ERR_CERT_EXPIRED: () => new CertificateError('ERR_CERT_EXPIRED', 'm'),
  ERR_CERT_NOT_YET_VALID: () => new CertificateError('ERR_CERT_NOT_YET_VALID', 'm'),
  ERR_TOKEN_EXPIRED: () => new TokenExpiredError('m', 'exp'),
  ERR_TOKEN_NOT_YET_VALID: () => new TokenNotYetValidError('m'),
  ERR_CLAIM_INVALID: () => new ClaimInvalidError('iss', 'm'),
  ERR_BODY_HASH_MISMATCH: () => new BodyHashMismatchError('m'),
  ERR_BINDING_MISMATCH: () => new BindingMismatchError('htm', 'm'),
  ERR_COMPONENT_NOT_COVERED: () => new ComponentNotCoveredError('content-digest', 'm'),
  ERR_TOKEN_REPLAYED: () => new TokenReplayedError(),
  ERR_REPLAY_STORE_UNAVAILABLE: () =>
    new VerifierUnavailableError('ERR_REPLAY_STORE_UNAVAILABLE', 'm'),
  ERR_JWKS_UNAVAILABLE: () => new VerifierUnavailableError('ERR_JWKS_UNAVAILABLE', 'm'),
  ERR_UPSTREAM_UNREACHABLE: () => new UpstreamError('ERR_UPSTREAM_UNREACHABLE', 'm'),
  ERR_UPSTREAM_TIMEOUT: () => new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'm'),
  ERR_UPSTREAM_TLS: () =>
    new UpstreamError('ERR_UPSTREAM_TLS', 'm', { upstream: 'h:443', reason: 'why' }),
  ERR_LISTEN_FAILED: () => new UpstreamJwtError('ERR_LISTEN_FAILED', 'm'),
  ERR_USAGE: () => new UsageError('m'),
  ERR_FILE_EXISTS: () => new UpstreamJwtError('ERR_FILE_EXISTS', 'm'),
  ERR_BUNDLE_MISSING: () => new UpstreamJwtError('ERR_BUNDLE_MISSING', 'm'),
  ERR_PLUGINSERVER_NOT_FOUND: () => new UpstreamJwtError('ERR_PLUGINSERVER_NOT_FOUND', 'm'),
  ERR_NODE_UNSUPPORTED: () => new UpstreamJwtError('ERR_NODE_UNSUPPORTED', 'm'),
  ERR_INTERNAL: () => new UpstreamJwtError('ERR_INTERNAL', 'm'),
}

test('every code of the table is raised as the class the table names, with its status', () => {
  assert.deepEqual(Object.keys(RAISED).sort(), Object.keys(ERRORS).sort())
  for (const [code, make] of Object.entries(RAISED) as [ErrorCode, () => UpstreamJwtError][]) {
    const err = make()
    const spec = ERRORS[code]
    assert.equal(err.code, code)
    assert.equal(err.name, spec.class, code)
    assert.equal(err.status, spec.status, code)
    assert.ok(err instanceof UpstreamJwtError)
    assert.ok(err instanceof Error)
    assert.deepEqual(JSON.parse(JSON.stringify(err)), {
      code,
      status: spec.status,
      message: err.message,
    })
  }
})

test('the table is well formed: statuses are HTTP error statuses, one line per description', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.match(code, /^ERR_[A-Z0-9_]+$/)
    assert.ok(spec.status >= 400 && spec.status <= 599, code)
    assert.ok(spec.description.length > 0 && !spec.description.includes('\n'), code)
  }
})

test('README carries the error table as generated from ERRORS (npm run docs)', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const table = errorsMarkdownTable()
  assert.ok(
    readme.includes(`<!-- errors:start -->\n${table}\n<!-- errors:end -->`),
    'run npm run docs',
  )
  for (const code of Object.keys(ERRORS)) assert.match(table, new RegExp(`\\| \`${code}\` \\|`))
})

test('instanceof tells subclasses apart; a kong.yml error is a ConfigError', () => {
  const err = new KeyError('ERR_KEY_INVALID', 'm')
  assert.equal(err instanceof ConfigError, false)
  assert.equal(new Error('x') instanceof UpstreamJwtError, false)
  assert.equal((null as unknown as object) instanceof UpstreamJwtError, false)
  const yml = new GatewayConfigError('services[0].url is not a URL')
  assert.ok(yml instanceof ConfigError)
  assert.equal(yml.code, 'ERR_OPTION_INVALID')
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
