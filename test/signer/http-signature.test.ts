import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  httpbis,
  createSigner as theirSigner,
  createVerifier as theirVerifier,
} from 'http-message-signatures'
import { parseDictionary } from 'structured-headers'
import type { Algorithm } from '../../src/core/algorithms.js'
import { digestBytes } from '../../src/core/body-digest.js'
import { ConfigError, KeyError } from '../../src/core/errors.js'
import { jwkThumbprint } from '../../src/core/keys.js'
import type { RequestFacts } from '../../src/signer/facts.js'
import { createSigner } from '../../src/signer/signer.js'
import { createVerifier } from '../../src/verify/verifier.js'
import { type KeyFiles, writeKeys } from '../../testing/keys.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

const RFC9421: Record<string, string> = {
  RS256: 'rsa-v1_5-sha256',
  PS512: 'rsa-pss-sha512',
  ES256: 'ecdsa-p256-sha256',
  ES384: 'ecdsa-p384-sha384',
  EdDSA: 'ed25519',
}
const ALGS = Object.keys(RFC9421) as Algorithm[]

const body = '{"id":1,"item":"widget"}'
const facts: RequestFacts = {
  method: 'POST',
  scheme: 'http',
  host: 'orders.internal:8080',
  path: '/orders/new',
  query: 'expand=lines&x=%2F',
  body: digestBytes(body),
  service: { name: 'orders' },
  headers: { 'content-type': 'application/json' },
}
const url = 'http://orders.internal:8080/orders/new?expand=lines&x=%2F'

function lower(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
}

describe('HTTP Message Signatures: signer', () => {
  let dir: string
  const keys: Partial<Record<Algorithm, KeyFiles>> = {}
  before(async () => {
    dir = await makeTempDir()
    for (const alg of ALGS) keys[alg] = await writeKeys(dir, alg)
  })
  after(() => removeDir(dir))
  const options = (alg: Algorithm, more: Record<string, unknown> = {}) => ({
    private_key_location: keys[alg]!.key,
    public_key_location: keys[alg]!.certPem,
    algorithm: alg,
    key_reload_interval: 0,
    ...more,
  })

  test('an algorithm RFC 9421 does not define is refused when the configuration is loaded', async () => {
    for (const alg of ['RS384', 'RS512', 'PS256', 'PS384', 'ES512'] as const) {
      await assert.rejects(
        createSigner({ algorithm: alg, signature_mode: 'http-signature' }, { env: {} }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.code === 'ERR_OPTION_INVALID' &&
          err.option === 'algorithm' &&
          err.message.includes(`RFC 9421 defines no algorithm for ${alg}`),
      )
    }
  })

  test('EdDSA with an Ed448 key is refused when the key is loaded', async () => {
    const { privateKey } = generateKeyPairSync('ed448')
    const file = join(dir, 'ed448.pem')
    await writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }))
    await assert.rejects(
      createSigner(
        { private_key_location: file, algorithm: 'EdDSA', signature_mode: 'both', x5c: 'none' },
        { env: {} },
      ),
      (err: unknown) =>
        err instanceof KeyError &&
        err.code === 'ERR_KEY_UNSUITABLE' &&
        err.message.includes('Ed448'),
    )
  })

  test('jwt mode sets the JWT header only', async () => {
    const signer = await createSigner(options('RS256'), { env: {} })
    const signed = await signer.signRequest(facts)
    assert.deepEqual(Object.keys(signed.headers), ['JWT'])
    assert.equal(signed.httpSignature, undefined)
    signer.close()
  })

  test('http-signature mode: Content-Digest, Signature-Input and Signature, no JWT', async () => {
    const second = Math.floor(Date.now() / 1000)
    const signer = await createSigner(options('ES256', { signature_mode: 'http-signature' }), {
      env: {},
      clock: () => second * 1000 + 500,
    })
    const { headers, httpSignature } = await signer.signRequest(facts)
    assert.deepEqual(Object.keys(headers).sort(), [
      'Content-Digest',
      'Signature',
      'Signature-Input',
    ])
    const sha = createHash('sha256').update(body).digest('base64')
    assert.equal(headers['Content-Digest'], `sha-256=:${sha}:`)
    const kid = jwkThumbprint(keys.ES256!.cert.publicKey)
    assert.equal(
      headers['Signature-Input'],
      `sig1=("@method" "@target-uri" "content-digest" "content-type");created=${second};expires=${second + 60};nonce="${httpSignature!.nonce}";keyid="${kid}";alg="ecdsa-p256-sha256";tag="kong-upstream-jwt"`,
    )
    assert.match(httpSignature!.nonce, /^[0-9a-f-]{36}$/)
    assert.equal(
      httpSignature!.base.split('\n').slice(0, 4).join('\n'),
      `"@method": POST\n"@target-uri": ${url}\n"content-digest": sha-256=:${sha}:\n"content-type": application/json`,
    )
    const again = await signer.signRequest(facts)
    assert.notEqual(again.httpSignature!.nonce, httpSignature!.nonce)
    signer.close()
  })

  test('an empty body still gets a Content-Digest (of the empty input); no content-type, not covered', async () => {
    const signer = await createSigner(
      options('EdDSA', {
        signature_mode: 'http-signature',
        signature_label: 'gw',
        signature_tag: 'edge',
        key_id: 'key-1',
      }),
      { env: {} },
    )
    const { headers } = await signer.signRequest({
      ...facts,
      method: 'GET',
      body: undefined,
      headers: {},
    })
    assert.equal(
      headers['Content-Digest'],
      'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:',
    )
    const input = parseDictionary(headers['Signature-Input']!).get('gw') as [
      [string, Map<string, unknown>][],
      Map<string, unknown>,
    ]
    assert.deepEqual(
      input[0].map((i) => i[0]),
      ['@method', '@target-uri', 'content-digest'],
    )
    assert.equal(input[1].get('keyid'), 'key-1')
    assert.equal(input[1].get('tag'), 'edge')
    assert.ok(parseDictionary(headers.Signature!).has('gw'))
    signer.close()
  })

  test('both mode covers the JWT header; nonce is the jti, keyid the kid, one key for both', async () => {
    const signer = await createSigner(
      options('PS512', { signature_mode: 'both', include_credential_type: true }),
      { env: {} },
    )
    const { headers, token, httpSignature } = await signer.signRequest(facts)
    assert.deepEqual(Object.keys(headers).sort(), [
      'Content-Digest',
      'JWT',
      'Signature',
      'Signature-Input',
    ])
    assert.match(headers.JWT!, /^Bearer /)
    assert.equal(httpSignature!.nonce, token!.claims.jti)
    assert.match(headers['Signature-Input']!, /"content-type" "jwt"\);/)
    assert.ok(httpSignature!.base.includes(`\n"jwt": ${headers.JWT}\n`))
    assert.ok(headers['Signature-Input']!.includes(`keyid="${token!.kid}"`))
    signer.close()
  })

  test('a request without method or host is not signed (fail closed)', async () => {
    const signer = await createSigner(options('RS256', { signature_mode: 'http-signature' }), {
      env: {},
    })
    await assert.rejects(signer.signRequest({ ...facts, host: undefined }), {
      code: 'ERR_SIGNING_FAILED',
    })
    await assert.rejects(signer.signRequest({ ...facts, method: undefined }), {
      code: 'ERR_SIGNING_FAILED',
    })
    signer.close()
  })

  for (const alg of ALGS) {
    test(`${alg} / ${RFC9421[alg]}: ours signs, http-message-signatures verifies`, async () => {
      const signer = await createSigner(options(alg, { signature_mode: 'http-signature' }), {
        env: {},
      })
      const { headers } = await signer.signRequest(facts)
      const request = {
        method: 'POST',
        url,
        headers: { ...lower(headers), 'content-type': 'application/json' },
      }
      const kid = jwkThumbprint(keys[alg]!.cert.publicKey)
      const verify = (req: typeof request) =>
        httpbis.verifyMessage(
          {
            keyLookup: async (params) =>
              params.keyid === kid
                ? {
                    id: kid,
                    algs: [RFC9421[alg]!],
                    verify: theirVerifier(keys[alg]!.cert.publicKey, RFC9421[alg]!),
                  }
                : null,
            requiredFields: ['@method', '@target-uri', 'content-digest', 'content-type'],
            requiredParams: ['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'],
          },
          req,
        )
      assert.equal(await verify(request), true)
      // The independent verifier also refuses what ours refuses: another path.
      assert.equal(await verify({ ...request, url: url.replace('/new', '/old') }), false)
      signer.close()
    })

    test(`${alg} / ${RFC9421[alg]}: http-message-signatures signs, ours verifies`, async () => {
      const k = keys[alg]!
      const kid = jwkThumbprint(k.cert.publicKey)
      const now = new Date()
      const request = {
        method: 'POST',
        url,
        headers: {
          host: 'orders.internal:8080',
          'content-type': 'application/json',
          'content-digest': `sha-256=:${createHash('sha256').update(body).digest('base64')}:`,
        },
      }
      const signed = await httpbis.signMessage(
        {
          key: theirSigner(k.keys.privateKey, RFC9421[alg]!, kid),
          name: 'sig1',
          fields: ['@method', '@target-uri', 'content-digest', 'content-type'],
          params: ['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'],
          paramValues: {
            created: now,
            expires: new Date(now.getTime() + 60_000),
            nonce: `n-${alg}`,
            tag: 'kong-upstream-jwt',
          },
        },
        request,
      )
      const verifier = createVerifier({
        pinned: [k.certPem],
        signatureMode: 'http-signature',
      })
      const received = lower(signed.headers as Record<string, string>)
      const result = await verifier.verify({
        headers: received,
        method: 'POST',
        url,
        body,
      })
      assert.equal(result.httpSignature?.alg, RFC9421[alg])
      assert.equal(result.httpSignature?.keyid, kid)
      await assert.rejects(
        verifier.verify({
          headers: received,
          method: 'PUT',
          url,
          body,
        }),
        { code: 'ERR_SIGNATURE_INVALID' },
      )
      await verifier.close()
    })
  }
})
