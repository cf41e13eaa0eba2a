import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { httpbis, createSigner as theirSigner } from 'http-message-signatures'
import { digestBytes } from '../../src/core/body-digest.js'
import { UpstreamJwtError } from '../../src/core/errors.js'
import { jwkThumbprint } from '../../src/core/keys.js'
import type { RequestFacts } from '../../src/signer/facts.js'
import { createSigner, type Signer } from '../../src/signer/signer.js'
import {
  createVerifier,
  type VerifierCommonOptions,
  type VerifierOptions,
  type VerifyRequest,
} from '../../src/verify/verifier.js'
import { type KeyFiles, writeKeys } from '../../testing/keys.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

const BODY = '{"order":42}'
const FACTS: RequestFacts = {
  method: 'POST',
  scheme: 'http',
  host: 'orders.internal:8080',
  path: '/orders',
  query: 'a=1',
  body: digestBytes(BODY),
  service: { name: 'orders' },
  headers: { 'content-type': 'application/json' },
}
const URL_AS_FORWARDED = 'http://orders.internal:8080/orders?a=1'

function lower(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
}

async function refused(p: Promise<unknown>, code: string, claim?: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UpstreamJwtError, String(err))
    assert.equal(err.code, code, err.message)
    if (claim !== undefined) assert.equal((err as { claim?: string }).claim, claim)
    return true
  })
}

describe('verifier: HTTP Message Signatures', () => {
  let dir: string
  let ed: KeyFiles
  let pki: Pki
  let sigSigner: Signer
  let bothSigner: Signer
  before(async () => {
    dir = await makeTempDir()
    ed = await writeKeys(dir, 'EdDSA')
    pki = await makePki(dir)
    sigSigner = await createSigner(
      {
        private_key_location: ed.key,
        public_key_location: ed.certPem,
        algorithm: 'EdDSA',
        signature_mode: 'http-signature',
        key_reload_interval: 0,
      },
      { env: {} },
    )
    bothSigner = await createSigner(
      {
        private_key_location: pki.files.key,
        public_key_location: pki.files.chain,
        algorithm: 'ES256',
        signature_mode: 'both',
        bind_request: true,
        issuer: 'gw',
        key_reload_interval: 0,
      },
      { env: {} },
    )
  })
  after(async () => {
    sigSigner.close()
    bothSigner.close()
    await removeDir(dir)
  })

  const received = async (signer: Signer, facts: RequestFacts = FACTS): Promise<VerifyRequest> => ({
    headers: {
      ...lower((await signer.signRequest(facts)).headers),
      'content-type': 'application/json',
    },
    method: 'POST',
    url: URL_AS_FORWARDED,
    body: BODY,
  })
  type More = Partial<VerifierCommonOptions> & { signatureMode?: string }
  const sigVerifier = (more: More = {}) =>
    createVerifier({
      pinned: [ed.certPem],
      signatureMode: 'http-signature',
      ...more,
    } as VerifierOptions)
  const bothVerifier = (more: Partial<VerifierCommonOptions> = {}) =>
    createVerifier({
      ca: pki.files.rootPem,
      issuer: 'gw',
      audience: 'orders',
      signatureMode: 'both',
      ...more,
    })

  test('http-signature: a signed request verifies, with the key found by keyid', async () => {
    const v = sigVerifier()
    const result = await v.verify(await received(sigSigner))
    assert.equal(result.httpSignature?.alg, 'ed25519')
    assert.equal(result.httpSignature?.keyid, jwkThumbprint(ed.cert.publicKey))
    assert.equal(result.httpSignature?.tag, 'kong-upstream-jwt')
    assert.deepEqual(result.httpSignature?.components, [
      '@method',
      '@target-uri',
      'content-digest',
      'content-type',
    ])
    assert.equal(result.token, '')
  })

  test('@target-uri is the URI htu names: a Host written with capitals and a default port is one URI', async () => {
    // The signer's facts say `Orders.Internal:80`; the upstream rebuilds `http://orders.internal`.
    const facts = { ...FACTS, host: 'Orders.Internal:80' }
    const headers = lower((await bothSigner.signRequest(facts)).headers)
    const input = headers['signature-input'] ?? ''
    assert.match(input, /"@target-uri"/)
    const result = await bothVerifier({ requireBinding: true }).verify({
      headers: { ...headers, 'content-type': 'application/json' },
      method: 'POST',
      url: 'http://orders.internal/orders?a=1',
      body: BODY,
    })
    assert.equal(result.claims.htu, 'http://orders.internal/orders')
    // and a URI other than the one signed is still refused
    await refused(
      bothVerifier().verify({
        headers: { ...headers, 'content-type': 'application/json' },
        method: 'POST',
        url: 'http://orders.internal:8080/orders?a=1',
        body: BODY,
      }),
      'ERR_BINDING_MISMATCH',
      'htu',
    )
  })

  test("both: an aged request is refused by maxTokenAge (the JWT's iat, checked first)", async () => {
    const request = async (): Promise<VerifyRequest> => ({
      headers: {
        ...lower((await bothSigner.signRequest(FACTS)).headers),
        'content-type': 'application/json',
      },
      method: 'POST',
      url: URL_AS_FORWARDED,
      body: BODY,
    })
    const aged = (ms: number) => bothVerifier({ maxTokenAge: 10, clock: () => Date.now() + ms })
    // 45 s old: past 10 s and the 30 s tolerance, well within `exp` and `expires` (60 s).
    await refused(aged(45_000).verify(await request()), 'ERR_TOKEN_EXPIRED', 'iat')
    const result = await aged(35_000).verify(await request())
    assert.equal(result.httpSignature?.created, result.claims.iat)
    assert.ok(await bothVerifier({ clock: () => Date.now() + 45_000 }).verify(await request()))
  })

  test('http-signature: keys from the JWKS the signer publishes', async () => {
    const v = createVerifier({ jwks: sigSigner.jwks() as never, signatureMode: 'http-signature' })
    assert.equal((await v.verify(await received(sigSigner))).httpSignature?.alg, 'ed25519')
  })

  test('http-signature: each tampered part is refused with its own code', async () => {
    const v = sigVerifier({ replay: false })
    const ok = await received(sigSigner)
    await refused(v.verify({ ...ok, body: `${BODY} ` }), 'ERR_BODY_HASH_MISMATCH', 'content-digest')
    await refused(v.verify({ ...ok, method: 'PUT' }), 'ERR_SIGNATURE_INVALID')
    await refused(
      v.verify({ ...ok, url: URL_AS_FORWARDED.replace('a=1', 'a=2') }),
      'ERR_SIGNATURE_INVALID',
    )
    await refused(
      v.verify({ ...ok, headers: { ...ok.headers, 'content-type': 'text/plain' } }),
      'ERR_SIGNATURE_INVALID',
    )
    const { 'signature-input': _, ...unsigned } = ok.headers as Record<string, string>
    await refused(v.verify({ ...ok, headers: unsigned }), 'ERR_TOKEN_MISSING')
    await refused(
      v.verify({ ...ok, headers: { ...ok.headers, signature: 'sig1=:AAAA' } }),
      'ERR_TOKEN_MALFORMED',
    )
  })

  test('http-signature: a content-type the signature does not cover is refused', async () => {
    const v = sigVerifier()
    const signed = (await sigSigner.signRequest({ ...FACTS, headers: {} })).headers
    await refused(
      v.verify({
        headers: { ...lower(signed), 'content-type': 'application/json' },
        method: 'POST',
        url: URL_AS_FORWARDED,
        body: BODY,
      }),
      'ERR_COMPONENT_NOT_COVERED',
      'content-type',
    )
  })

  test('http-signature: a Content-Digest with sha-512 alone (RFC 9530) is checked with SHA-512', async () => {
    const sha512 = createHash('sha512').update(BODY).digest('base64')
    const sha256 = createHash('sha256').update(BODY).digest('base64')
    const now = new Date()
    // Signed by another RFC 9421 implementation, with the verifier's trusted key.
    const request = async (digest: string, nonce: string, body: VerifyRequest['body'] = BODY) => {
      const signed = await httpbis.signMessage(
        {
          key: theirSigner(ed.keys.privateKey, 'ed25519', jwkThumbprint(ed.cert.publicKey)),
          name: 'sig1',
          fields: ['@method', '@target-uri', 'content-digest', 'content-type'],
          params: ['created', 'expires', 'nonce', 'keyid', 'tag'],
          paramValues: {
            created: now,
            expires: new Date(now.getTime() + 60_000),
            nonce,
            tag: 'kong-upstream-jwt',
          },
        },
        {
          method: 'POST',
          url: URL_AS_FORWARDED,
          headers: { 'Content-Digest': digest, 'Content-Type': 'application/json' },
        },
      )
      return {
        headers: lower(signed.headers as Record<string, string>),
        method: 'POST',
        url: URL_AS_FORWARDED,
        body,
      }
    }
    const v = sigVerifier()
    const result = await v.verify(await request(`sha-512=:${sha512}:`, 'n1'))
    assert.equal(result.httpSignature?.alg, 'ed25519')
    // A stream is hashed with both as it is read.
    assert.ok(await v.verify(await request(`sha-512=:${sha512}:`, 'n2', Readable.from([BODY]))))
    await refused(
      v.verify(await request(`sha-512=:${sha512}:`, 'n3', `${BODY} `)),
      'ERR_BODY_HASH_MISMATCH',
      'content-digest',
    )
    // A digest the caller made has no SHA-512 to compare: refused, and says why.
    await assert.rejects(
      v.verify(await request(`sha-512=:${sha512}:`, 'n4', digestBytes(BODY))),
      /only a sha-512 member, and the body was given as a digest/,
    )
    assert.ok(
      await v.verify(
        await request(`sha-512=:${sha512}:`, 'n5', digestBytes(BODY, { sha512: true })),
      ),
    )
    // With both members sha-256 decides: a wrong one is refused whatever sha-512 says.
    const wrong256 = createHash('sha256').update('other').digest('base64')
    await refused(
      v.verify(await request(`sha-256=:${wrong256}:, sha-512=:${sha512}:`, 'n6')),
      'ERR_BODY_HASH_MISMATCH',
      'content-digest',
    )
    assert.ok(await v.verify(await request(`sha-512=:${sha512}:, sha-256=:${sha256}:`, 'n7')))
    // No member this verifier can compute.
    const sha1 = createHash('sha1').update(BODY).digest('base64')
    await assert.rejects(
      v.verify(await request(`sha-1=:${sha1}:`, 'n8')),
      /no sha-256 or sha-512 member/,
    )
  })

  test('http-signature: a signature that does not cover content-digest is refused', async () => {
    const v = sigVerifier()
    const now = new Date()
    const signed = await httpbis.signMessage(
      {
        key: theirSigner(ed.keys.privateKey, 'ed25519', jwkThumbprint(ed.cert.publicKey)),
        name: 'sig1',
        fields: ['@method', '@target-uri'],
        params: ['created', 'expires', 'nonce', 'keyid', 'tag'],
        paramValues: {
          created: now,
          expires: new Date(now.getTime() + 60_000),
          nonce: 'n1',
          tag: 'kong-upstream-jwt',
        },
      },
      { method: 'GET', url: URL_AS_FORWARDED, headers: {} },
    )
    await refused(
      v.verify({
        headers: lower(signed.headers as Record<string, string>),
        method: 'GET',
        url: URL_AS_FORWARDED,
      }),
      'ERR_COMPONENT_NOT_COVERED',
      'content-digest',
    )
  })

  test('http-signature: label, tag, replay, time window and unknown keys', async () => {
    const request = await received(sigSigner)
    await refused(sigVerifier({ signatureLabel: 'other' }).verify(request), 'ERR_TOKEN_MISSING')
    await refused(
      sigVerifier({ signatureTag: 'someone-else' }).verify(request),
      'ERR_CLAIM_INVALID',
      'tag',
    )
    assert.ok(await sigVerifier({ signatureTag: false }).verify(request))
    const v = sigVerifier()
    await v.verify(request)
    await refused(v.verify(request), 'ERR_TOKEN_REPLAYED', 'nonce')
    const later = sigVerifier({ clock: () => Date.now() + 120_000 })
    await refused(later.verify(await received(sigSigner)), 'ERR_TOKEN_EXPIRED', 'expires')
    const earlier = sigVerifier({ clock: () => Date.now() - 120_000 })
    await refused(earlier.verify(await received(sigSigner)), 'ERR_TOKEN_NOT_YET_VALID', 'created')
    // Within the clock tolerance (30 s) both pass.
    assert.ok(
      await sigVerifier({ clock: () => Date.now() + 80_000 }).verify(await received(sigSigner)),
    )
    // maxTokenAge bounds the age from `created`, whatever `expires` allows (60 s here).
    const aged = (ms: number) => sigVerifier({ maxTokenAge: 10, clock: () => Date.now() + ms })
    await refused(aged(45_000).verify(await received(sigSigner)), 'ERR_TOKEN_EXPIRED', 'created')
    assert.ok(await aged(35_000).verify(await received(sigSigner)))
    assert.ok(
      await sigVerifier({ clock: () => Date.now() + 45_000 }).verify(await received(sigSigner)),
    )
    const other = await writeKeys(dir, 'EdDSA', { name: 'other' })
    await refused(
      createVerifier({
        pinned: [other.certPem, pki.files.chain],
        signatureMode: 'http-signature',
      }).verify(await received(sigSigner)),
      'ERR_CERT_UNTRUSTED',
    )
  })

  test('http-signature: an algorithm outside the allowlist is refused', async () => {
    await refused(
      sigVerifier({ algorithms: ['RS256', 'ES256'] }).verify(await received(sigSigner)),
      'ERR_ALG_NOT_ALLOWED',
    )
  })

  test('both: JWT through the CA chain, then the signature with the JWT key', async () => {
    const v = bothVerifier()
    const result = await v.verify(await received(bothSigner))
    assert.equal(result.claims.jti, result.httpSignature?.nonce)
    assert.ok(result.httpSignature?.components.includes('jwt'))
    assert.equal(result.certificates.length, 2)
  })

  test('both: each tampered part is refused with its own code', async () => {
    const v = bothVerifier({ replay: false })
    const ok = await received(bothSigner)
    await refused(v.verify({ ...ok, body: `${BODY} ` }), 'ERR_BODY_HASH_MISMATCH')
    await refused(v.verify({ ...ok, method: 'PUT' }), 'ERR_BINDING_MISMATCH', 'htm')
    await refused(
      v.verify({ ...ok, url: 'http://orders.internal:8080/other?a=1' }),
      'ERR_BINDING_MISMATCH',
      'htu',
    )
    await refused(
      v.verify({ ...ok, url: 'http://orders.internal:8080/orders?a=2' }),
      'ERR_BINDING_MISMATCH',
      'htq',
    )
    await refused(
      v.verify({ ...ok, headers: { ...ok.headers, 'content-type': 'text/plain' } }),
      'ERR_SIGNATURE_INVALID',
    )
    // Another valid JWT from the same gateway in place of the covered one.
    const swapped = (await bothSigner.signRequest(FACTS)).headers.JWT!
    await refused(
      v.verify({ ...ok, headers: { ...ok.headers, jwt: swapped } }),
      'ERR_SIGNATURE_INVALID',
    )
    // A JWT alone is not enough in both mode.
    const jwtOnly = Object.fromEntries(
      Object.entries(ok.headers).filter(([k]) => !k.startsWith('signature')),
    )
    await refused(v.verify({ ...ok, headers: jwtOnly }), 'ERR_TOKEN_MISSING')
  })

  test('jwt mode ignores signature headers; http-signature mode ignores the JWT', async () => {
    const request = await received(bothSigner)
    const jwt = createVerifier({ ca: pki.files.rootPem, issuer: 'gw', audience: 'orders' })
    assert.equal((await jwt.verify(request)).httpSignature, undefined)
  })

  test('createVerifier refuses http-signature mode with only a CA (a signature has no chain)', () => {
    assert.throws(
      () => createVerifier({ ca: pki.files.rootPem, signatureMode: 'http-signature' }),
      { code: 'ERR_OPTION_INVALID', option: 'signatureMode' },
    )
  })

  test('createVerifier refuses an unknown signatureMode', () => {
    assert.throws(() => sigVerifier({ signatureMode: 'cavage' as never }), {
      code: 'ERR_OPTION_INVALID',
    })
  })
})
