import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { digestBytes } from '../../src/core/body-digest.js'
import { createSigner, type Signer } from '../../src/signer/signer.js'
import { createVerifier } from '../../src/verify/verifier.js'
import { writeKeys } from '../../testing/keys.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

describe('JWKS trust', () => {
  let dir: string
  let a: Signer
  let b: Signer
  let served: Signer
  let hits = 0
  let server: Server
  let url: string
  after(async () => {
    await new Promise((r) => server.close(r))
    await removeDir(dir)
  })
  before(async () => {
    dir = await makeTempDir()
    const ka = await writeKeys(dir, 'ES256', { name: 'a' })
    const kb = await writeKeys(dir, 'EdDSA', { name: 'b' })
    a = await createSigner(
      { private_key_location: ka.key, x5c: 'none', key_id: 'auto', algorithm: 'ES256' },
      { env: {} },
    )
    b = await createSigner(
      { private_key_location: kb.key, x5c: 'none', key_id: 'auto', algorithm: 'EdDSA' },
      { env: {} },
    )
    served = a
    server = createServer((_req, res) => {
      hits++
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(served.jwks()))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  })
  const request = async (s: Signer) => ({
    headers: { jwt: await s.sign({ body: digestBytes('b'), service: { name: 'orders' } }) },
    body: 'b',
  })

  test('keys by kid from a URL; fetched once for many tokens', async () => {
    hits = 0
    const v = createVerifier({ jwks: url, audience: 'orders' })
    for (let i = 0; i < 5; i++) await v.verify(await request(a))
    assert.equal(hits, 1)
  })

  test('an unknown kid refetches at most once per cooldown (rotation works, floods do not)', async () => {
    hits = 0
    served = a
    let now = Date.now()
    const v = createVerifier({
      jwks: { source: url, cooldown: 30_000 },
      clock: () => now,
      audience: 'orders',
    })
    await v.verify(await request(a))
    served = b
    await assert.rejects(v.verify(await request(b)), { code: 'ERR_CERT_UNTRUSTED' })
    for (let i = 0; i < 10; i++) {
      const bogus = (await request(a)).headers.jwt.replace(
        /^[^.]+/,
        Buffer.from(JSON.stringify({ alg: 'ES256', kid: `k${i}` })).toString('base64url'),
      )
      await assert.rejects(v.verify({ headers: { jwt: bogus }, body: 'b' }), {
        code: 'ERR_CERT_UNTRUSTED',
      })
    }
    assert.equal(hits, 1, 'no fetch inside the cooldown')
    now += 30_001
    await v.verify(await request(b))
    assert.equal(hits, 2)
    served = a
  })

  test('after maxAge the set is refreshed in the background; requests use the keys in hand', async () => {
    hits = 0
    served = a
    let now = Date.now()
    const v = createVerifier({
      jwks: { source: url, maxAge: 60_000 },
      clock: () => now,
      audience: 'orders',
    })
    await v.verify(await request(a))
    assert.equal(hits, 1)
    now += 60_001
    await v.verify(await request(a))
    for (let i = 0; i < 50 && hits < 2; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(hits, 2)
  })

  test('a JWK that names its alg is not used with another one', async () => {
    const [jwk] = a.jwks().keys
    const relabelled = { keys: [{ ...jwk, alg: 'ES384' }] }
    await assert.rejects(
      createVerifier({ jwks: relabelled as never, audience: 'orders' }).verify(await request(a)),
      {
        code: 'ERR_ALG_NOT_ALLOWED',
        message: /the key for this token is for ES384, not ES256/,
      },
    )
  })

  test('JWKS unreachable at first use: 503 ERR_JWKS_UNAVAILABLE', async () => {
    const v = createVerifier({ jwks: 'http://127.0.0.1:1/jwks.json', audience: 'orders' })
    await assert.rejects(v.verify(await request(a)), (err: unknown) => {
      const e = err as { code: string; status: number }
      assert.equal(e.code, 'ERR_JWKS_UNAVAILABLE')
      assert.equal(e.status, 503)
      return true
    })
  })

  test('JWKS from a file and from an object; private members are never used', async () => {
    const file = join(dir, 'jwks.json')
    await writeFile(file, JSON.stringify(a.jwks()))
    await createVerifier({ jwks: file, audience: 'orders' }).verify(await request(a))
    await createVerifier({ jwks: a.jwks() as never, audience: 'orders' }).verify(await request(a))
    const withPrivate = { keys: a.jwks().keys.map((k) => ({ ...k, d: 'AAAA' })) }
    await assert.rejects(
      createVerifier({ jwks: withPrivate as never, audience: 'orders' }).verify(await request(a)),
      {
        code: 'ERR_CERT_UNTRUSTED',
      },
    )
  })
})
