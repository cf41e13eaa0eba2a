import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { test } from 'node:test'
import {
  ALGORITHMS,
  algorithmSpec,
  assertKeyFitsAlgorithm,
  keyUnfitFor,
  rfc9421Algorithm,
} from '../../src/core/algorithms.js'
import { KeyError } from '../../src/core/errors.js'

test('the RFC 9421 names (§6.2.2) of the algorithms that have one', () => {
  const ed25519 = generateKeyPairSync('ed25519').publicKey
  const ed448 = generateKeyPairSync('ed448').publicKey
  assert.equal(rfc9421Algorithm('RS256'), 'rsa-v1_5-sha256')
  assert.equal(rfc9421Algorithm('PS512'), 'rsa-pss-sha512')
  assert.equal(rfc9421Algorithm('ES256'), 'ecdsa-p256-sha256')
  assert.equal(rfc9421Algorithm('ES384'), 'ecdsa-p384-sha384')
  assert.equal(rfc9421Algorithm('EdDSA', ed25519), 'ed25519')
  assert.equal(rfc9421Algorithm('EdDSA', ed448), undefined)
  for (const alg of ['RS384', 'RS512', 'PS256', 'PS384', 'ES512'] as const) {
    assert.equal(rfc9421Algorithm(alg), undefined, alg)
  }
})

test('each JWS algorithm names its digest in the table (none for EdDSA)', () => {
  for (const alg of ALGORITHMS) {
    const expected = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
    assert.equal(algorithmSpec(alg).digest, expected, alg)
  }
})

test('keyUnfitFor says why without a file; assertKeyFitsAlgorithm adds the file', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey
  assert.equal(keyUnfitFor(ec, 'ES256'), undefined)
  assert.equal(
    keyUnfitFor(ec, 'RS256'),
    'algorithm RS256 needs an RSA key, but the key is an EC key',
  )
  assert.match(
    keyUnfitFor(ec, 'ES384') ?? '',
    /needs an EC key on P-384, but the key is on prime256v1/,
  )
  assert.throws(
    () => assertKeyFitsAlgorithm(ec, 'RS256', 'cert.pem'),
    (err: unknown) =>
      err instanceof KeyError &&
      err.code === 'ERR_KEY_UNSUITABLE' &&
      err.file === 'cert.pem' &&
      err.message === 'algorithm RS256 needs an RSA key, but the key in cert.pem is an EC key',
  )
})
