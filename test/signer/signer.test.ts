import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify } from 'jose'
import { KeyError, SigningError } from '../../src/core/errors.js'
import { generateKeyPair, issueCertificate } from '../../src/keygen/certificates.js'
import type { SignerOptions } from '../../src/options/table.js'
import { createSigner, type SignerContext } from '../../src/signer/signer.js'
import { type KeyFiles, writeKeys } from '../../testing/keys.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

function headerOf(value: string) {
  return JSON.parse(
    Buffer.from(value.replace(/^Bearer /, '').split('.')[0] ?? '', 'base64url').toString(),
  )
}

function recordingLogger() {
  const lines: { level: string; msg: string }[] = []
  return {
    lines,
    logger: {
      info: (msg: string) => lines.push({ level: 'info', msg }),
      warn: (msg: string) => lines.push({ level: 'warn', msg }),
      error: (msg: string) => lines.push({ level: 'error', msg }),
    },
  }
}

describe('createSigner', () => {
  let dir: string
  let rsa: KeyFiles
  let chainFile: string
  let ca: Awaited<ReturnType<typeof issueCertificate>>
  let leaf: KeyFiles
  after(() => removeDir(dir))
  before(async () => {
    dir = await makeTempDir()
    rsa = await writeKeys(dir, 'RS256')
    const caKeys = await generateKeyPair({ type: 'rsa' })
    ca = await issueCertificate({ subject: 'CA', keys: caKeys, ca: true })
    leaf = await writeKeys(dir, 'RS256', {
      name: 'leaf',
      issuer: { certificate: ca, keys: caKeys },
    })
    chainFile = join(dir, 'chain.pem')
    await writeFile(chainFile, (await readFile(leaf.certPem, 'utf8')) + ca.toString())
  })
  const make = (options: SignerOptions = {}, context: SignerContext = {}) =>
    createSigner(
      { private_key_location: rsa.key, public_key_location: rsa.certDer, ...options },
      { env: {}, ...context },
    )

  test('header: typ, alg and x5c in standard base64 (RFC 7515 §4.1.6)', async () => {
    const signer = await make()
    const header = headerOf(await signer.sign())
    assert.deepEqual(Object.keys(header), ['typ', 'alg', 'x5c'])
    assert.equal(header.typ, 'JWT')
    assert.equal(header.alg, 'RS256')
    assert.equal(header.x5c[0], rsa.cert.raw.toString('base64'))
  })

  test("x5c_encoding base64url keeps the original plugin's form", async () => {
    const signer = await make({ x5c_encoding: 'base64url' })
    const x5c = headerOf(await signer.sign()).x5c[0]
    assert.equal(x5c, rsa.cert.raw.toString('base64url'))
    assert.doesNotMatch(x5c, /[+/=]/)
  })

  test('x5c chain (default), leaf and none', async () => {
    const base = { private_key_location: leaf.key, public_key_location: chainFile }
    const chain = headerOf(await (await make(base)).sign()).x5c
    assert.deepEqual(chain, [leaf.cert.raw.toString('base64'), ca.raw.toString('base64')])
    const only = headerOf(await (await make({ ...base, x5c: 'leaf' })).sign()).x5c
    assert.deepEqual(only, [leaf.cert.raw.toString('base64')])
    assert.equal('x5c' in headerOf(await (await make({ ...base, x5c: 'none' })).sign()), false)
  })

  test('kid: as configured, or auto = RFC 7638 thumbprint (checked with jose)', async () => {
    assert.equal(headerOf(await (await make({ key_id: 'gw-2026' })).sign()).kid, 'gw-2026')
    const auto = await make({ key_id: 'auto' })
    const jwk = rsa.keys.publicKey.export({ format: 'jwk' })
    assert.equal(
      headerOf(await auto.sign()).kid,
      await calculateJwkThumbprint(jwk as never, 'sha256'),
    )
  })

  test('x5t#S256 and typ', async () => {
    const signer = await make({ include_x5t_s256: true, typ: 'kong-upstream+jwt' })
    const header = headerOf(await signer.sign())
    assert.equal(header['x5t#S256'], createHash('sha256').update(rsa.cert.raw).digest('base64url'))
    assert.equal(header.typ, 'kong-upstream+jwt')
  })

  test('header name and Bearer prefix', async () => {
    const signer = await make({ header: 'X-Upstream-JWT', include_credential_type: true })
    assert.equal(signer.headerName, 'X-Upstream-JWT')
    assert.match(await signer.sign(), /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
    assert.match(signer.signSync(), /^Bearer /)
  })

  test('sign, signSync and issue make valid tokens with fresh jti', async () => {
    const signer = await make({ key_id: 'auto' })
    const [jwk] = signer.jwks().keys
    const key = await importJWK(jwk as never, 'RS256')
    const issued = await signer.issue({ service: { name: 's' } })
    const tokens = [await signer.sign(), signer.signSync(), issued.token]
    const jtis = new Set<unknown>()
    for (const token of tokens) {
      const { payload } = await jwtVerify(token, key, { algorithms: ['RS256'] })
      jtis.add(payload.jti)
      assert.match(
        String(payload.jti),
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      )
    }
    assert.equal(jtis.size, 3)
    assert.equal(issued.claims.aud, 's')
    assert.equal(issued.kid, jwk?.kid)
    assert.equal(decodeProtectedHeader(issued.token).kid, jwk?.kid)
  })

  test('jwks: kid, alg, use, x5c in base64 and x5t#S256', async () => {
    const signer = await make({ key_id: 'k1' })
    const [jwk] = signer.jwks().keys
    assert.equal(jwk?.kid, 'k1')
    assert.equal(jwk?.alg, 'RS256')
    assert.equal(jwk?.use, 'sig')
    assert.deepEqual(jwk?.x5c, [rsa.cert.raw.toString('base64')])
    assert.equal(jwk?.['x5t#S256'], createHash('sha256').update(rsa.cert.raw).digest('base64url'))
    assert.equal('d' in (jwk ?? {}), false, 'never the private part')
  })

  test('a closed signer refuses to sign', async () => {
    const signer = await make()
    signer.close()
    await assert.rejects(
      signer.sign(),
      (err: unknown) => err instanceof SigningError && err.code === 'ERR_SIGNER_CLOSED',
    )
  })

  test('the signer fails closed once its certificate has expired', async () => {
    let now = Date.now()
    const signer = await make({}, { clock: () => now })
    await signer.sign()
    now = new Date(rsa.cert.validTo).getTime() + 1000
    await assert.rejects(
      signer.sign(),
      (err: unknown) => err instanceof KeyError && err.code === 'ERR_SIGNING_CERT_EXPIRED',
    )
  })

  test('a certificate near expiry is reported to the logger at start', async () => {
    const soon = await writeKeys(dir, 'ES256', {
      name: 'soon',
      notAfter: new Date(Date.now() + 3 * 86_400_000),
    })
    const { lines, logger } = recordingLogger()
    await createSigner(
      { private_key_location: soon.key, public_key_location: soon.certDer, algorithm: 'ES256' },
      { env: {}, logger },
    )
    assert.equal(lines.length, 1)
    assert.equal(lines[0]?.level, 'warn')
    assert.match(lines[0]?.msg ?? '', /expires on/)
  })

  test('rotation: changed files are picked up; a bad new key is refused and the old one kept', async () => {
    const rot = join(dir, 'rot')
    const a = await writeKeys(dir, 'ES256', { name: 'rot-a' })
    const b = await writeKeys(dir, 'ES256', { name: 'rot-b' })
    const key = `${rot}.key.pem`
    const cert = `${rot}.cert.cer`
    await copyFile(a.key, key)
    await copyFile(a.certDer, cert)
    const { lines, logger } = recordingLogger()
    let now = Date.now()
    const signer = await createSigner(
      {
        private_key_location: key,
        public_key_location: cert,
        algorithm: 'ES256',
        key_id: 'auto',
        key_reload_interval: 5,
      },
      { env: {}, logger, clock: () => now },
    )
    const kidA = signer.jwks().keys[0]?.kid
    assert.equal(await signer.reload(), false, 'nothing changed')

    // Key first, certificate later: the half-rotated state is refused, the old key kept.
    await copyFile(b.key, key)
    assert.equal(await signer.reload(), false)
    assert.match(
      lines.at(-1)?.msg ?? '',
      /new key was refused, keeping the current one: .*does not belong/,
    )
    assert.equal(headerOf(await signer.sign()).kid, kidA)

    await copyFile(b.certDer, cert)
    assert.equal(await signer.reload(), true)
    const kidB = headerOf(await signer.sign()).kid
    assert.notEqual(kidB, kidA)
    assert.deepEqual(
      signer.jwks().keys.map((k) => k.kid),
      [kidB, kidA],
      'the previous key stays published',
    )

    // Lazy polling: only after key_reload_interval, in the background.
    await copyFile(a.key, key)
    await copyFile(a.certDer, cert)
    await signer.sign()
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(headerOf(await signer.sign()).kid, kidB, 'not before the interval')
    now += 5_001
    await signer.sign() // starts the check
    for (let i = 0; i < 50 && headerOf(await signer.sign()).kid !== kidA; i++) {
      await new Promise((r) => setTimeout(r, 10))
    }
    assert.equal(headerOf(await signer.sign()).kid, kidA)
    assert.ok(lines.some((l) => l.level === 'info' && /reloaded/.test(l.msg)))
    for (const l of lines) assert.doesNotMatch(l.msg, /BEGIN|PRIVATE/)
  })
})
