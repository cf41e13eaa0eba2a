import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, verify } from 'node:crypto'
import { test } from 'node:test'
import { SigningError } from '../../src/core/errors.js'
import {
  createSigningKey,
  encodeJson,
  signCompact,
  signCompactCallback,
  signCompactSync,
} from '../../src/signer/jws.js'
import vector from '../vectors/rfc7515-a2.json' with { type: 'json' }

const key = createPrivateKey({ key: vector.jwk, format: 'jwk' })
const expected = `${vector.encodedHeader}.${vector.encodedPayload}.${vector.encodedSignature}`

test('RFC 7515 A.2 reproduced byte for byte (async)', async () => {
  assert.equal(Buffer.from(vector.protectedHeader).toString('base64url'), vector.encodedHeader)
  assert.equal(Buffer.from(vector.payload).toString('base64url'), vector.encodedPayload)
  const token = await signCompact(
    vector.encodedHeader,
    vector.encodedPayload,
    createSigningKey(key, 'RS256'),
  )
  assert.equal(token, expected)
})

test('RFC 7515 A.2 reproduced byte for byte (sync)', () => {
  assert.equal(
    signCompactSync(vector.encodedHeader, vector.encodedPayload, createSigningKey(key, 'RS256')),
    expected,
  )
})

test('encodeJson is unpadded base64url of the JSON text', () => {
  assert.equal(encodeJson({ a: '??>' }), Buffer.from('{"a":"??>"}').toString('base64url'))
  assert.doesNotMatch(encodeJson({ a: 1 }), /[=+/]/)
})

test('ECDSA signatures are r||s of the curve size, not DER (RFC 7518 §3.4)', async () => {
  const { generateKeyPairSync } = await import('node:crypto')
  for (const [alg, curve, len] of [
    ['ES256', 'prime256v1', 64],
    ['ES384', 'secp384r1', 96],
    ['ES512', 'secp521r1', 132],
  ] as const) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve })
    const token = await signCompact('e30', 'e30', createSigningKey(privateKey, alg))
    const sig = Buffer.from(token.split('.')[2] ?? '', 'base64url')
    assert.equal(sig.length, len, alg)
    const ok = verify(
      `sha${alg.slice(2)}`,
      Buffer.from('e30.e30'),
      { key: createPublicKey(privateKey), dsaEncoding: 'ieee-p1363' },
      sig,
    )
    assert.ok(ok, alg)
  }
})

test('a key that cannot sign gives a SigningError, never a raw crypto error', async () => {
  const { generateKeyPairSync } = await import('node:crypto')
  const { privateKey } = generateKeyPairSync('ed25519')
  // Deliberately wrong pairing (bypassing the load-time check) to reach the failure path.
  await assert.rejects(
    signCompact('e30', 'e30', createSigningKey(privateKey, 'RS256')),
    (err: unknown) => {
      assert.ok(err instanceof SigningError)
      assert.equal(err.code, 'ERR_SIGNING_FAILED')
      return true
    },
  )
  assert.throws(() => signCompactSync('e30', 'e30', createSigningKey(privateKey, 'RS256')), {
    code: 'ERR_SIGNING_FAILED',
  })
})

/** Signs `e30.e30` with the callback form; says whether it called back before returning. */
function signWatched(
  signingKey: ReturnType<typeof createSigningKey>,
): Promise<{ token: string; calledBeforeReturn: boolean }> {
  let returned = false
  return new Promise((resolve, reject) => {
    signCompactCallback('e30', 'e30', signingKey, (err, token) => {
      if (err) reject(err)
      else resolve({ token, calledBeforeReturn: !returned })
    })
    returned = true
  })
}

test('the callback form signs ES256 and Ed25519 on the calling thread, the rest on the pool', async () => {
  const { generateKeyPairSync } = await import('node:crypto')
  const cases = [
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, true],
    ['EdDSA', generateKeyPairSync('ed25519').privateKey, true],
    ['EdDSA', generateKeyPairSync('ed448').privateKey, false],
    ['ES384', generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey, false],
    ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, false],
  ] as const
  for (const [alg, privateKey, onLoop] of cases) {
    const signingKey = createSigningKey(privateKey, alg)
    assert.equal(signingKey.onLoop, onLoop, alg)
    const { token, calledBeforeReturn } = await signWatched(signingKey)
    assert.equal(calledBeforeReturn, onLoop, alg)
    const sig = Buffer.from(token.split('.')[2] ?? '', 'base64url')
    const digest = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
    const publicKey = { key: createPublicKey(privateKey), dsaEncoding: 'ieee-p1363' as const }
    assert.ok(verify(digest, Buffer.from('e30.e30'), publicKey, sig), alg)
  }
})

test('signOn loop and pool override the key type: RS256 on the calling thread, ES256 on the pool', async () => {
  const { generateKeyPairSync } = await import('node:crypto')
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
  const cases = [
    ['RS256', createSigningKey(rsa, 'RS256', 'loop'), true],
    ['ES256', createSigningKey(ec, 'ES256', 'pool'), false],
    ['RS256', createSigningKey(rsa, 'RS256', 'auto'), false],
    ['ES256', createSigningKey(ec, 'ES256', 'auto'), true],
    ['RS256', createSigningKey(rsa, 'RS256', 'own-core'), true],
    ['ES256', createSigningKey(ec, 'ES256', 'own-core'), true],
  ] as const
  for (const [alg, signingKey, synchronous] of cases) {
    const { token, calledBeforeReturn } = await signWatched(signingKey)
    assert.equal(calledBeforeReturn, synchronous, alg)
    const key = alg === 'RS256' ? rsa : ec
    const publicKey = { key: createPublicKey(key), dsaEncoding: 'ieee-p1363' as const }
    const sig = Buffer.from(token.split('.')[2] ?? '', 'base64url')
    assert.ok(verify('sha256', Buffer.from('e30.e30'), publicKey, sig), alg)
  }
})

test('own-core keeps the slow keys on the pool: RSA over 2048 bits, P-384, P-521; Ed448 on the loop', async () => {
  const { generateKeyPairSync } = await import('node:crypto')
  const cases = [
    ['RS256', generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey, false],
    ['ES384', generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey, false],
    ['ES512', generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey, false],
    ['EdDSA', generateKeyPairSync('ed448').privateKey, true],
    ['EdDSA', generateKeyPairSync('ed25519').privateKey, true],
  ] as const
  for (const [alg, key, onLoop] of cases)
    assert.equal(
      createSigningKey(key, alg, 'own-core').onLoop,
      onLoop,
      `${alg} ${key.asymmetricKeyType}`,
    )
})

test('the callback form on the calling thread still gives a SigningError, once', async () => {
  const { generateKeyPairSync } = await import('node:crypto')
  const { privateKey } = generateKeyPairSync('ed25519')
  // Wrong pairing (bypassing the load-time check) with the on-loop path forced.
  const signingKey = { ...createSigningKey(privateKey, 'RS256'), onLoop: true }
  const calls: Array<Error | null> = []
  signCompactCallback('e30', 'e30', signingKey, (err) => calls.push(err))
  assert.equal(calls.length, 1)
  assert.ok(calls[0] instanceof SigningError)
  assert.equal(calls[0].code, 'ERR_SIGNING_FAILED')
})

test('the callback form on the pool: a batch asked for in one turn, each token to its own caller', async () => {
  const { generateKeyPairSync, verify } = await import('node:crypto')
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const signingKey = createSigningKey(privateKey, 'ES256', 'pool')
  assert.equal(signingKey.onLoop, false)
  const payloads = Array.from({ length: 20 }, (_, i) =>
    Buffer.from(JSON.stringify({ i })).toString('base64url'),
  )
  const tokens = await Promise.all(
    payloads.map(
      (payload) =>
        new Promise<string>((resolve, reject) =>
          signCompactCallback('e30', payload, signingKey, (err, token) =>
            err ? reject(err) : resolve(token),
          ),
        ),
    ),
  )
  tokens.forEach((token, i) => {
    const [header, payload, sig] = token.split('.')
    assert.equal(payload, payloads[i], 'each caller gets the token of what it asked to sign')
    const ok = verify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(sig!, 'base64url'),
    )
    assert.ok(ok, `token ${i} verifies`)
  })
})

test('the callback form on the pool: a job refused before the pool fails alone, its batch signs', async () => {
  const { generateKeyPairSync } = await import('node:crypto')
  const good = createSigningKey(
    generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
    'ES256',
    'pool',
  )
  // A digest node:crypto refuses synchronously, with the pool path (bypassing the load check).
  const bad = { ...good, digest: 'no-such-digest' }
  const results: Array<Promise<string>> = [good, bad, good].map(
    (signingKey) =>
      new Promise<string>((resolve) =>
        signCompactCallback('e30', 'e30', signingKey, (err, token) =>
          resolve(err ? `${err.name} ${err.code}` : token),
        ),
      ),
  )
  const [first, second, third] = await Promise.all(results)
  assert.match(first!, /^e30\.e30\.[\w-]+$/)
  assert.equal(second, 'SigningError ERR_SIGNING_FAILED')
  assert.match(third!, /^e30\.e30\.[\w-]+$/)
})
