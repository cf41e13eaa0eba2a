import assert from 'node:assert/strict'
import { createHmac, sign as cryptoSign, type KeyObject } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { importPKCS8, SignJWT } from 'jose'
import { ALGORITHMS, type Algorithm } from '../../src/core/algorithms.js'
import { digestBytes } from '../../src/core/body-digest.js'
import { ConfigError, UpstreamJwtError, VerificationError } from '../../src/core/errors.js'
import { KeyUsage } from '../../src/keygen/certificates.js'
import { createSigner, type Signer } from '../../src/signer/signer.js'
import {
  createVerifier,
  type VerifierOptions,
  type VerifyRequest,
} from '../../src/verify/verifier.js'
import { writeKeys } from '../../testing/keys.js'
import { issue, makePki, type Pki, writeChain } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { openssl } from '../helpers/openssl.js'

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
const BODY = '{"order":42}'

/** A token signed by hand, for shapes our signer never makes. */
function forge(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: KeyObject,
  alg: Algorithm = 'ES256',
): string {
  const input = `${b64(header)}.${b64(claims)}`
  const digest = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
  const sig = cryptoSign(
    digest,
    Buffer.from(input),
    alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' } : key,
  )
  return `${input}.${sig.toString('base64url')}`
}

async function rejects(p: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof VerificationError || err instanceof UpstreamJwtError, String(err))
    assert.equal(err.code, code, err.message)
    if (message) assert.match(err.message, message)
    return true
  })
}

describe('verifier', () => {
  let dir: string
  let pki: Pki
  let signer: Signer
  const now = Date.now()
  after(() => removeDir(dir))
  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    signer = await createSigner(
      {
        private_key_location: pki.files.key,
        public_key_location: pki.files.chain,
        algorithm: 'ES256',
        issuer: 'gw',
      },
      { env: {} },
    )
  })
  const verifier = (options: Partial<VerifierOptions> = {}) =>
    createVerifier({ ca: pki.files.rootPem, audience: 'orders', ...options })
  const request = async (body: string | null = BODY): Promise<VerifyRequest> => ({
    headers: {
      jwt: await signer.sign({
        body: body === null ? undefined : digestBytes(body),
        service: { name: 'orders' },
      }),
    },
    body,
  })
  const baseClaims = () => ({
    iss: 'gw',
    aud: 'orders',
    exp: Math.floor(now / 1000) + 60,
    jti: crypto.randomUUID(),
    payloadhash: '',
  })
  const leafX5c = () => [
    pki.leaf.cert.raw.toString('base64'),
    pki.intermediate.cert.raw.toString('base64'),
  ]

  test('a token from our signer verifies through the x5c chain to the root', async () => {
    const result = await verifier({ issuer: 'gw', audience: 'orders' }).verify(await request())
    assert.equal(result.claims.iss, 'gw')
    assert.equal(result.certificates.length, 2)
    assert.equal(result.header.alg, 'ES256')
  })

  test('every algorithm from our signer verifies (certificate in the bundle as its own anchor)', async () => {
    for (const alg of ALGORITHMS) {
      const files = await writeKeys(dir, alg, { name: `v-${alg}` })
      const s = await createSigner(
        { private_key_location: files.key, public_key_location: files.certDer, algorithm: alg },
        { env: {} },
      )
      const v = createVerifier({ ca: files.certPem, audience: null, algorithms: [alg] })
      const { header } = await v.verify({
        headers: { jwt: await s.sign({ body: digestBytes(BODY) }) },
        body: BODY,
      })
      assert.equal(header.alg, alg)
    }
  })

  test('tokens made by jose and by the openssl CLI verify', async () => {
    const pem = pki.leaf.keys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
    const joseToken = await new SignJWT(baseClaims())
      .setProtectedHeader({ alg: 'ES256', x5c: leafX5c() })
      .sign(await importPKCS8(pem, 'ES256'))
    assert.equal((await verifier().verify({ headers: { jwt: joseToken } })).claims.iss, 'gw')

    const rsa = await writeKeys(dir, 'RS256', { name: 'openssl-signed' })
    const input = `${b64({ alg: 'RS256', typ: 'JWT', x5c: [rsa.cert.raw.toString('base64')] })}.${b64(baseClaims())}`
    const inputFile = join(dir, 'openssl.input')
    const sigFile = join(dir, 'openssl.sig')
    await writeFile(inputFile, input)
    await openssl(['dgst', '-sha256', '-sign', rsa.key, '-out', sigFile, inputFile])
    const { readFile } = await import('node:fs/promises')
    const token = `${input}.${(await readFile(sigFile)).toString('base64url')}`
    const v = createVerifier({ ca: rsa.certPem, audience: 'orders' })
    assert.equal((await v.verify({ headers: { jwt: token } })).header.alg, 'RS256')
  })

  test('Bearer prefix, header name and a header given as a one-element array', async () => {
    const token = await signer.sign({ body: digestBytes(BODY), service: { name: 'orders' } })
    await verifier({ header: 'X-Upstream-JWT' }).verify({
      headers: { 'x-upstream-jwt': `Bearer ${token}` },
      body: BODY,
    })
    const t2 = await signer.sign({ body: digestBytes(BODY), service: { name: 'orders' } })
    await verifier().verify({ headers: { jwt: [t2] }, body: BODY })
  })

  test('no token, two tokens, garbage', async () => {
    await rejects(verifier().verify({ headers: {} }), 'ERR_TOKEN_MISSING')
    await rejects(
      verifier().verify({ headers: { jwt: ['a.b.c', 'd.e.f'] } }),
      'ERR_TOKEN_MALFORMED',
      /appears 2 times/,
    )
    for (const garbage of [
      'x',
      'a.b',
      'a.b.c.d',
      '!!.??.##',
      `${b64({ alg: 'ES256' })}.bm90IGpzb24.AA`,
      `${b64([1])}.${b64({})}.AA`,
    ]) {
      await rejects(verifier().verify({ headers: { jwt: garbage } }), 'ERR_TOKEN_MALFORMED')
    }
  })

  test('a 100 KB header is refused before parsing', async () => {
    await rejects(
      verifier().verify({ headers: { jwt: 'a'.repeat(100_000) } }),
      'ERR_TOKEN_MALFORMED',
      /longer than 65536/,
    )
  })

  test('alg none, HS256 with the public key as secret, and an algorithm off the allowlist', async () => {
    const none = `${b64({ alg: 'none', x5c: leafX5c() })}.${b64(baseClaims())}.`
    await rejects(verifier().verify({ headers: { jwt: none } }), 'ERR_ALG_NOT_ALLOWED')
    const spki = pki.leaf.keys.publicKey.export({ format: 'pem', type: 'spki' })
    const input = `${b64({ alg: 'HS256', x5c: leafX5c() })}.${b64(baseClaims())}`
    const hs = `${input}.${createHmac('sha256', spki).update(input).digest('base64url')}`
    await rejects(verifier().verify({ headers: { jwt: hs } }), 'ERR_ALG_NOT_ALLOWED')
    await rejects(
      verifier({ algorithms: ['RS256'] }).verify(await request()),
      'ERR_ALG_NOT_ALLOWED',
    )
    assert.throws(
      () =>
        createVerifier({
          ca: pki.files.rootPem,
          audience: 'orders',
          algorithms: ['HS256' as Algorithm],
        }),
      {
        code: 'ERR_OPTION_INVALID',
        message: /algorithm "HS256" is not supported/,
      },
    )
    assert.throws(() => createVerifier({ audience: 'orders' }), {
      code: 'ERR_OPTION_INVALID',
      message: /give at least one of ca, pinned or jwks/,
    })
  })

  test('a key that does not fit the alg (algorithm confusion) is refused', async () => {
    const token = forge(
      { alg: 'RS256', x5c: leafX5c() },
      baseClaims(),
      pki.leaf.keys.privateKey,
      'ES256',
    )
    await rejects(
      verifier().verify({ headers: { jwt: token } }),
      'ERR_ALG_NOT_ALLOWED',
      /needs an RSA key/,
    )
  })

  test('a bit flipped in header, payload or signature is refused', async () => {
    const token = (await request()).headers.jwt as string
    const parts = token.split('.')
    for (let i = 0; i < 3; i++) {
      const bytes = Buffer.from(parts[i]!, 'base64url')
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01
      const mutated = parts.map((p, j) => (j === i ? bytes.toString('base64url') : p)).join('.')
      await assert.rejects(
        verifier().verify({ headers: { jwt: mutated }, body: BODY }),
        (err: unknown) => {
          assert.ok(err instanceof VerificationError)
          assert.ok(
            [
              'ERR_SIGNATURE_INVALID',
              'ERR_TOKEN_MALFORMED',
              'ERR_CERT_UNTRUSTED',
              'ERR_ALG_NOT_ALLOWED',
            ].includes(err.code),
            err.code,
          )
          return true
        },
      )
    }
  })

  test('a non-canonical spelling of the same signature is refused (unused base64url bits set)', async () => {
    const token = (await request()).headers.jwt as string
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = alphabet.indexOf(token.at(-1) as string)
    const respelled = token.slice(0, -1) + alphabet[last ^ 1]
    assert.deepEqual(
      Buffer.from(respelled.split('.')[2] ?? '', 'base64url'),
      Buffer.from(token.split('.')[2] ?? '', 'base64url'),
    )
    await rejects(
      verifier().verify({ headers: { jwt: respelled }, body: BODY }),
      'ERR_TOKEN_MALFORMED',
      /signature is not canonical base64url/,
    )
  })

  test('a changed body is refused: one byte, appended, truncated, and a body where "" was signed', async () => {
    const v = verifier()
    for (const body of ['{"order":43}', `${BODY} `, BODY.slice(0, -1)]) {
      const req = await request()
      await rejects(v.verify({ ...req, body }), 'ERR_BODY_HASH_MISMATCH')
    }
    const empty = await request(null)
    await rejects(
      v.verify({ ...empty, body: 'smuggled' }),
      'ERR_BODY_HASH_MISMATCH',
      /is "" \(no body\)/,
    )
    await rejects(
      v.verify({ ...(await request()), body: undefined }),
      'ERR_BODY_HASH_MISMATCH',
      /request has none/,
    )
  })

  test('bodies as a stream and as a digest', async () => {
    const { Readable } = await import('node:stream')
    await verifier().verify({
      ...(await request()),
      body: Readable.from([Buffer.from(BODY.slice(0, 3)), Buffer.from(BODY.slice(3))]),
    })
    await verifier().verify({ ...(await request()), body: digestBytes(BODY) })
  })

  test('payloadhash: required by default, optional when asked; malformed values refused', async () => {
    const token = forge(
      { alg: 'ES256', x5c: leafX5c() },
      { ...baseClaims(), payloadhash: undefined },
      pki.leaf.keys.privateKey,
    )
    await rejects(
      verifier().verify({ headers: { jwt: token } }),
      'ERR_CLAIM_INVALID',
      /"payloadhash" claim is missing/,
    )
    await verifier({ payloadHash: 'optional' }).verify({ headers: { jwt: token } })
    const upper = forge(
      { alg: 'ES256', x5c: leafX5c() },
      { ...baseClaims(), payloadhash: digestBytes(BODY).sha256.toUpperCase() },
      pki.leaf.keys.privateKey,
    )
    await rejects(
      verifier().verify({ headers: { jwt: upper }, body: BODY }),
      'ERR_CLAIM_INVALID',
      /lowercase hex/,
    )
  })

  test('time: expiry and tolerance edges, nbf, iat in the future, maxTokenAge (injected clock)', async () => {
    const t = Math.floor(now / 1000)
    const at = (claims: Record<string, unknown>, options: Partial<VerifierOptions> = {}) =>
      verifier({ clock: () => t * 1000, ...options }).verify({
        headers: {
          jwt: forge(
            { alg: 'ES256', x5c: leafX5c() },
            { ...baseClaims(), ...claims },
            pki.leaf.keys.privateKey,
          ),
        },
      })
    await at({ exp: t - 29 })
    await rejects(at({ exp: t - 30 }), 'ERR_TOKEN_EXPIRED')
    await rejects(at({ exp: t - 1 }, { clockTolerance: 0 }), 'ERR_TOKEN_EXPIRED')
    await at({ exp: t + 1 }, { clockTolerance: 0 })
    await at({ nbf: t + 30 })
    await rejects(at({ nbf: t + 31 }), 'ERR_TOKEN_NOT_YET_VALID')
    await at({ iat: t + 30 })
    await rejects(at({ iat: t + 31 }), 'ERR_CLAIM_INVALID', /"iat" claim is in the future/)
    await at({ iat: t - 100 }, { maxTokenAge: 100 })
    await rejects(
      at({ iat: t - 131 }, { maxTokenAge: 100 }),
      'ERR_TOKEN_EXPIRED',
      /older than 100 s/,
    )
    await rejects(at({ iat: undefined }, { maxTokenAge: 100 }), 'ERR_CLAIM_INVALID')
    await rejects(at({ exp: '9999999999' }), 'ERR_CLAIM_INVALID', /NumericDate/)
    await rejects(at({ exp: undefined }), 'ERR_CLAIM_INVALID', /"exp" claim is missing/)
    await rejects(at({ jti: undefined }), 'ERR_CLAIM_INVALID', /"jti" claim is missing/)
  })

  test('audience must be chosen: required, a string, a list or null; null accepts any', async () => {
    const without = { ca: pki.files.rootPem } as unknown as VerifierOptions
    assert.throws(
      () => createVerifier(without),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(err.code, 'ERR_OPTION_INVALID')
        assert.equal(err.option, 'audience')
        assert.match(err.message, /option "audience" is required/)
        assert.match(err.message, /Kong service name/)
        assert.match(err.message, /audience: null accepts tokens minted for any service/)
        return true
      },
    )
    for (const [bad, problem] of [
      ['', /empty string/],
      [[], /empty list/],
      [['orders', 7], /non-empty strings/],
      [42, /not number/],
    ] as const) {
      assert.throws(
        () => createVerifier({ ca: pki.files.rootPem, audience: bad as never }),
        { code: 'ERR_OPTION_INVALID', message: problem },
        String(bad),
      )
    }
    await verifier({ audience: null }).verify(await request())
    await rejects(
      verifier({ audience: 'billing' }).verify(await request()),
      'ERR_CLAIM_INVALID',
      /^"aud" claim "orders" is not the expected "billing"$/,
    )
  })

  test('issuer, audience (string, list, predicate), required claims, typ', async () => {
    const req = async () => request()
    await rejects(verifier({ issuer: 'other' }).verify(await req()), 'ERR_CLAIM_INVALID', /"iss"/)
    await verifier({ issuer: ['x', 'gw'] }).verify(await req())
    await rejects(
      verifier({ audience: 'billing' }).verify(await req()),
      'ERR_CLAIM_INVALID',
      /"aud"/,
    )
    await verifier({ audience: ['billing', 'orders'] }).verify(await req())
    await verifier({ audience: (aud) => aud.includes('orders') }).verify(await req())
    const listAud = forge(
      { alg: 'ES256', x5c: leafX5c() },
      { ...baseClaims(), aud: ['a', 'orders'] },
      pki.leaf.keys.privateKey,
    )
    await verifier({ audience: 'orders' }).verify({ headers: { jwt: listAud } })
    await rejects(
      verifier({ requiredClaims: ['consumerid'] }).verify(await req()),
      'ERR_CLAIM_INVALID',
      /"consumerid" claim is missing/,
    )
    await verifier({ typ: 'jwt' }).verify(await req())
    await rejects(verifier({ typ: 'kong+jwt' }).verify(await req()), 'ERR_CLAIM_INVALID', /"typ"/)
  })

  test('trust: self-signed not in the truststore, expired intermediate, non-CA intermediate, pathLen, leaf keyUsage', async () => {
    const self = await writeKeys(dir, 'ES256', { name: 'stranger' })
    const s = await createSigner(
      { private_key_location: self.key, public_key_location: self.certDer, algorithm: 'ES256' },
      { env: {} },
    )
    await rejects(
      verifier().verify({ headers: { jwt: await s.sign() } }),
      'ERR_CERT_UNTRUSTED',
      /not issued by a trusted CA/,
    )

    const chainToken = async (
      leaf: Awaited<ReturnType<typeof issue>>,
      ...issuers: Awaited<ReturnType<typeof issue>>[]
    ) => {
      const files = await writeChain(dir, `c${Math.random()}`, leaf, ...issuers)
      const cs = await createSigner(
        { private_key_location: files.key, public_key_location: files.chain, algorithm: 'ES256' },
        { env: {} },
      )
      return cs.sign()
    }
    const old = await issue('old intermediate', 'ES256', pki.root, {
      ca: true,
      notBefore: new Date(now - 10 * 86_400_000),
      notAfter: new Date(now - 86_400_000),
    })
    const oldLeaf = await issue('leaf of old', 'ES256', old, {
      notBefore: new Date(now - 5 * 86_400_000),
    })
    await assert.rejects(
      chainToken(oldLeaf, old),
      /expired/i,
      'our signer refuses an expired chain itself',
    )
    const forged = forge(
      { alg: 'ES256', x5c: [oldLeaf.cert.raw.toString('base64'), old.cert.raw.toString('base64')] },
      baseClaims(),
      oldLeaf.keys.privateKey,
    )
    await rejects(
      verifier().verify({ headers: { jwt: forged } }),
      'ERR_CERT_EXPIRED',
      /x5c\[1\].*expired/,
    )

    const x5c = (...certs: Awaited<ReturnType<typeof issue>>[]) =>
      certs.map((c) => c.cert.raw.toString('base64'))
    // No keyUsage, so only the basicConstraints check can catch it.
    const notCa = await issue('not a CA', 'ES256', pki.root, { ca: false, keyUsage: null })
    const underNotCa = await issue('leaf under non-CA', 'ES256', notCa)
    const viaNotCa = forge(
      { alg: 'ES256', x5c: x5c(underNotCa, notCa) },
      baseClaims(),
      underNotCa.keys.privateKey,
    )
    await rejects(
      verifier().verify({ headers: { jwt: viaNotCa } }),
      'ERR_CERT_UNTRUSTED',
      /is not a CA/,
    )

    const sub = await issue('sub-intermediate', 'ES256', pki.intermediate, { ca: true })
    const deep = await issue('deep leaf', 'ES256', sub)
    const tooDeep = forge(
      { alg: 'ES256', x5c: x5c(deep, sub, pki.intermediate) },
      baseClaims(),
      deep.keys.privateKey,
    )
    await rejects(
      verifier().verify({ headers: { jwt: tooDeep } }),
      'ERR_CERT_UNTRUSTED',
      /allows 0 intermediate\(s\) below it, the chain has 1/,
    )

    const encipherOnly = await issue('no signing', 'ES256', pki.intermediate, {
      keyUsage: KeyUsage.keyEncipherment,
    })
    await rejects(
      verifier().verify({
        headers: {
          jwt: forge(
            { alg: 'ES256', x5c: x5c(encipherOnly, pki.intermediate) },
            baseClaims(),
            encipherOnly.keys.privateKey,
          ),
        },
      }),
      'ERR_CERT_UNTRUSTED',
      /digitalSignature/,
    )
  })

  test('an intermediate in the bundle is an anchor by itself', async () => {
    const bundle = join(dir, 'intermediate-only.pem')
    await writeFile(bundle, pki.intermediate.cert.toString())
    await createVerifier({ ca: bundle, audience: 'orders' }).verify(await request())
  })

  test('an x5c that does not match the signing key', async () => {
    const other = await issue('other leaf', 'ES256', pki.intermediate)
    const token = forge(
      {
        alg: 'ES256',
        x5c: [other.cert.raw.toString('base64'), pki.intermediate.cert.raw.toString('base64')],
      },
      baseClaims(),
      pki.leaf.keys.privateKey,
    )
    await rejects(verifier().verify({ headers: { jwt: token } }), 'ERR_SIGNATURE_INVALID')
  })

  test('legacy base64url x5c: refused by default, accepted with legacyX5c', async () => {
    const legacy = forge(
      {
        alg: 'ES256',
        x5c: [
          pki.leaf.cert.raw.toString('base64url'),
          pki.intermediate.cert.raw.toString('base64url'),
        ],
      },
      baseClaims(),
      pki.leaf.keys.privateKey,
    )
    await rejects(
      verifier().verify({ headers: { jwt: legacy } }),
      'ERR_TOKEN_MALFORMED',
      /legacy form/,
    )
    await verifier({ legacyX5c: true }).verify({ headers: { jwt: legacy } })
  })

  test('duplicate members and crit are refused', async () => {
    const claims =
      b64(baseClaims()).slice(0, 0) +
      Buffer.from(
        `{"iss":"gw","iss":"evil","exp":${Math.floor(now / 1000) + 60},"jti":"x","payloadhash":""}`,
      ).toString('base64url')
    const input = `${b64({ alg: 'ES256', x5c: leafX5c() })}.${claims}`
    const sig = cryptoSign('sha256', Buffer.from(input), {
      key: pki.leaf.keys.privateKey,
      dsaEncoding: 'ieee-p1363',
    })
    await rejects(
      verifier().verify({ headers: { jwt: `${input}.${sig.toString('base64url')}` } }),
      'ERR_TOKEN_MALFORMED',
      /member "iss" twice/,
    )
    const crit = forge(
      { alg: 'ES256', x5c: leafX5c(), crit: ['exp'] },
      baseClaims(),
      pki.leaf.keys.privateKey,
    )
    await rejects(verifier().verify({ headers: { jwt: crit } }), 'ERR_TOKEN_MALFORMED', /crit/)
  })

  test('the same token twice is refused (memory store); replay off accepts it', async () => {
    const v = verifier()
    const req = await request()
    await v.verify(req)
    await rejects(v.verify(req), 'ERR_TOKEN_REPLAYED')
    const open = verifier({ replay: false })
    await open.verify(req)
    await open.verify(req)
  })

  test('an invalid token does not burn its jti', async () => {
    const v = verifier()
    const req = await request()
    await rejects(v.verify({ ...req, body: 'tampered' }), 'ERR_BODY_HASH_MISMATCH')
    await v.verify(req)
  })

  test('a failing replay store: 503, or let through when configured', async () => {
    const broken = { claim: () => Promise.reject(new Error('down')) }
    await rejects(
      verifier({ replay: broken }).verify(await request()),
      'ERR_REPLAY_STORE_UNAVAILABLE',
    )
    await assert.rejects(
      verifier({ replay: broken }).verify(await request()),
      (e: unknown) => (e as VerificationError).status === 503,
    )
    await verifier({ replay: broken, replayStoreFailure: 'allow' }).verify(await request())
  })

  test('request binding: checked when present, required on demand', async () => {
    const bound = await createSigner(
      {
        private_key_location: pki.files.key,
        public_key_location: pki.files.chain,
        algorithm: 'ES256',
        bind_request: true,
      },
      { env: {} },
    )
    const sign = () =>
      bound.sign({
        method: 'POST',
        scheme: 'http',
        host: 'orders.internal:8080',
        path: '/v1/orders',
        query: 'a=1',
        body: digestBytes(BODY),
        service: { name: 'orders' },
      })
    const v = verifier()
    await v.verify({
      headers: { jwt: await sign() },
      method: 'POST',
      url: 'http://orders.internal:8080/v1/orders?a=1',
      body: BODY,
    })
    await verifier().verify({
      headers: { jwt: await sign() },
      method: 'post',
      url: 'HTTP://Orders.Internal:8080/v1/orders?a=1#frag',
      body: BODY,
    })
    await rejects(
      v.verify({
        headers: { jwt: await sign() },
        method: 'PUT',
        url: 'http://orders.internal:8080/v1/orders?a=1',
        body: BODY,
      }),
      'ERR_BINDING_MISMATCH',
      /htm/,
    )
    await rejects(
      v.verify({
        headers: { jwt: await sign() },
        method: 'POST',
        url: 'http://orders.internal:8080/v1/other?a=1',
        body: BODY,
      }),
      'ERR_BINDING_MISMATCH',
      /htu/,
    )
    await rejects(
      v.verify({
        headers: { jwt: await sign() },
        method: 'POST',
        url: 'http://orders.internal:8080/v1/orders?a=2',
        body: BODY,
      }),
      'ERR_BINDING_MISMATCH',
      /htq/,
    )
    await rejects(
      v.verify({ headers: { jwt: await sign() }, body: BODY }),
      'ERR_BINDING_MISMATCH',
      /method is not known/,
    )
    await rejects(
      v.verify({ headers: { jwt: await sign() }, method: 'POST', body: BODY }),
      'ERR_BINDING_MISMATCH',
      /URL is not known/,
    )
    await rejects(
      verifier({ requireBinding: true }).verify(await request()),
      'ERR_BINDING_MISMATCH',
      /not bound/,
    )
  })

  test('pinned keys: x5c leaf pinned, or kid = thumbprint without x5c', async () => {
    const pinned = createVerifier({ pinned: [pki.leaf.cert.toString()], audience: 'orders' })
    await pinned.verify(await request())
    const kidSigner = await createSigner(
      { private_key_location: pki.files.key, x5c: 'none', key_id: 'auto', algorithm: 'ES256' },
      { env: {} },
    )
    const token = await kidSigner.sign({ body: digestBytes(BODY) })
    await createVerifier({ pinned: [pki.leaf.keys.publicKey], audience: null }).verify({
      headers: { jwt: token },
      body: BODY,
    })
    const stranger = await writeKeys(dir, 'ES256', { name: 'pin-stranger' })
    await rejects(
      createVerifier({ pinned: [stranger.certPem], audience: null }).verify({
        headers: { jwt: await kidSigner.sign({ body: digestBytes(BODY) }) },
        body: BODY,
      }),
      'ERR_CERT_UNTRUSTED',
    )
  })

  test("chain validation is cached (bounded) and never used past the chain's expiry", async () => {
    const { TrustStore } = await import('../../src/verify/trust.js')
    let t = now
    const store = new TrustStore({ ca: pki.files.rootPem, cacheSize: 2 }, () => t)
    const header = { alg: 'ES256', x5c: leafX5c() }
    const first = await store.resolve(header, t, 0)
    assert.equal(store.cachedChains, 1)
    const second = await store.resolve(header, t, 0)
    assert.equal(second[0], first[0], 'the cached entry itself')
    for (let i = 0; i < 3; i++) {
      const l = await issue(`leaf ${i}`, 'ES256', pki.intermediate)
      await store.resolve(
        {
          alg: 'ES256',
          x5c: [l.cert.raw.toString('base64'), pki.intermediate.cert.raw.toString('base64')],
        },
        t,
        0,
      )
    }
    assert.equal(store.cachedChains, 2, 'bounded')
    await store.resolve(header, t, 0)
    t = Date.parse(pki.leaf.cert.validTo) + 1000
    await rejects(store.resolve(header, t, 0), 'ERR_CERT_EXPIRED')
    const early = Date.parse(pki.leaf.cert.validFrom) - 60_000
    await rejects(
      new TrustStore({ ca: pki.files.rootPem }, () => early).resolve(header, early, 0),
      'ERR_CERT_NOT_YET_VALID',
      /is not valid before/,
    )
  })

  test('property: any mutation of a valid token or its body is refused with our errors', async () => {
    const token = (await request()).headers.jwt as string
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: token.length - 1 }),
        fc.string({ minLength: 1, maxLength: 1 }),
        fc.boolean(),
        async (pos, ch, mutateBody) => {
          const v = verifier({ replay: false })
          if (mutateBody) {
            const body = BODY.slice(0, pos % BODY.length) + ch + BODY.slice((pos % BODY.length) + 1)
            fc.pre(body !== BODY)
            await assert.rejects(v.verify({ headers: { jwt: token }, body }), VerificationError)
          } else {
            const mutated = token.slice(0, pos) + ch + token.slice(pos + 1)
            fc.pre(mutated !== token)
            await assert.rejects(
              v.verify({ headers: { jwt: mutated }, body: BODY }),
              (err: unknown) => {
                assert.ok(err instanceof VerificationError, String(err))
                return true
              },
            )
          }
        },
      ),
      { numRuns: 150 },
    )
  })

  test('property: arbitrary input throws only our error classes', async () => {
    const v = verifier({ replay: false })
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc
            .tuple(fc.jsonValue(), fc.jsonValue(), fc.string())
            .map(([h, p, s]) => `${b64(h)}.${b64(p)}.${s}`),
          fc
            .tuple(
              fc.dictionary(fc.constantFrom('alg', 'x5c', 'kid', 'crit', 'typ'), fc.jsonValue()),
              fc.jsonValue(),
            )
            .map(([h, p]) => `${b64(h)}.${b64(p)}.AAAA`),
        ),
        async (input) => {
          await assert.rejects(v.verify({ headers: { jwt: input } }), (err: unknown) => {
            assert.ok(err instanceof UpstreamJwtError, `${String(err)} for ${input.slice(0, 80)}`)
            // Short inputs can occur in any message by chance ("as " in "token has 1 parts").
            assert.ok(!err.message.includes(input) || input.length < 8, 'the token is never echoed')
            return true
          })
        },
      ),
      { numRuns: 300 },
    )
  })
})
