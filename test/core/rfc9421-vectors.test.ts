import assert from 'node:assert/strict'
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { type InnerList, parseDictionary } from 'structured-headers'
import { BodyHasher, digestBytes } from '../../src/core/body-digest.js'
import {
  contentDigest,
  namesSha512Alone,
  parseContentDigest,
} from '../../src/core/content-digest.js'
import { type HttpMessage, signatureBase } from '../../src/core/signature-base.js'
import { verifyHttpSignatureBytes } from '../../src/verify/http-signature.js'

interface Vector {
  rfc: string
  label: string
  key: string
  deterministic: boolean
  message: HttpMessage
  signatureInput: string
  signature: string
  base?: string
}
const vectors = JSON.parse(
  readFileSync(new URL('../vectors/rfc9421.json', import.meta.url), 'utf8'),
) as {
  keys: Record<string, { alg: string; privateKey: string }>
  signatures: Vector[]
  contentDigest: { rfc: string; body: string; value?: string; sha512?: string }[]
}

function parts(v: Vector): { input: InnerList; signature: Buffer } {
  const input = parseDictionary(v.signatureInput).get(v.label) as InnerList
  const sig = parseDictionary(v.signature).get(v.label)!
  return { input, signature: Buffer.from(sig[0] as ArrayBuffer) }
}

const privateKey = (id: string): KeyObject => createPrivateKey(vectors.keys[id]!.privateKey)

for (const v of vectors.signatures) {
  test(`${v.rfc}: the signature base is the RFC's and its signature verifies`, () => {
    const { input, signature } = parts(v)
    const base = signatureBase(input, v.message)
    if (v.base !== undefined) assert.equal(base, v.base)
    const alg = vectors.keys[v.key]!.alg
    const publicKey = createPublicKey(privateKey(v.key))
    assert.equal(verifyHttpSignatureBytes(alg as never, publicKey, base, signature), true)
    // One changed byte of the base, and the same signature is refused.
    const changed = `${base.slice(0, -1)}${base.endsWith('0') ? '1' : '0'}`
    assert.equal(verifyHttpSignatureBytes(alg as never, publicKey, changed, signature), false)
  })
  if (v.deterministic) {
    test(`${v.rfc}: signing the base with the RFC's key reproduces the signature byte for byte`, () => {
      const { input, signature } = parts(v)
      const base = Buffer.from(signatureBase(input, v.message))
      const key = privateKey(v.key)
      const ours =
        key.asymmetricKeyType === 'ed25519' ? sign(null, base, key) : sign('sha256', base, key)
      assert.equal(ours.toString('base64'), signature.toString('base64'))
    })
  }
}

test('RFC 9530: the Content-Digest of the example body is reproduced', () => {
  for (const c of vectors.contentDigest) {
    const body = Buffer.from(c.body)
    if (c.value !== undefined) {
      assert.equal(contentDigest(createHash('sha256').update(body).digest('hex')), c.value)
    }
    if (c.sha512 !== undefined) {
      const parsed = parseContentDigest(c.sha512).digests.get('sha-512')!
      assert.deepEqual(parsed, createHash('sha512').update(body).digest())
      // What the verifier compares it with, from bytes and from a stream chunked anyhow.
      assert.equal(digestBytes(body, { sha512: true }).sha512, parsed.toString('hex'))
      const hasher = new BodyHasher({ sha512: true })
      for (let i = 0; i < body.length; i += 7) hasher.update(body.subarray(i, i + 7))
      assert.equal(hasher.digest().sha512, parsed.toString('hex'))
      assert.equal(namesSha512Alone(c.sha512), true)
      if (c.value !== undefined) assert.equal(namesSha512Alone(`${c.value}, ${c.sha512}`), false)
    }
  }
  assert.equal(digestBytes('x').sha512, undefined)
  assert.equal(namesSha512Alone(undefined), false)
  assert.equal(namesSha512Alone('sha-512=not-a-byte-sequence'), false)
  assert.equal(namesSha512Alone('sha-512=:'), false)
})

test('Content-Digest of an absent body is the digest of the empty input', () => {
  assert.equal(contentDigest(undefined), 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:')
})
