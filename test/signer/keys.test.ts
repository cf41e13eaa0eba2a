import assert from 'node:assert/strict'
import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ConfigError, type ErrorCode, KeyError } from '../../src/core/errors.js'
import { generateKeyPair, issueCertificate } from '../../src/keygen/certificates.js'
import { resolveOptions } from '../../src/options/resolve.js'
import type { SignerOptions } from '../../src/options/table.js'
import { loadKeyMaterial } from '../../src/signer/keys.js'
import { type KeyFiles, writeKeys } from '../../testing/keys.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { openssl } from '../helpers/openssl.js'

const load = (options: SignerOptions, now?: Date) =>
  loadKeyMaterial(resolveOptions(options, { env: {} }), now)

async function rejectsWith(options: SignerOptions, code: ErrorCode, message: RegExp, now?: Date) {
  await assert.rejects(load(options, now), (err: unknown) => {
    assert.ok(err instanceof KeyError || err instanceof ConfigError, String(err))
    assert.equal(err.code, code)
    assert.match(err.message, message)
    assert.doesNotMatch(err.message, /BEGIN|PRIVATE KEY-----|MII/, 'no key material in messages')
    return true
  })
}

describe('key and certificate loading', () => {
  let dir: string
  let rsa: KeyFiles
  let ec: KeyFiles
  after(() => removeDir(dir))
  before(async () => {
    dir = await makeTempDir()
    rsa = await writeKeys(dir, 'RS256')
    ec = await writeKeys(dir, 'ES256')
  })

  test("PEM PKCS#8 key with DER certificate (the original's .cer)", async () => {
    const m = await load({ private_key_location: rsa.key, public_key_location: rsa.certDer })
    assert.equal(m.certificates.length, 1)
    assert.equal(m.certificates[0]?.fingerprint256, rsa.cert.fingerprint256)
    assert.equal(m.privateKey.asymmetricKeyType, 'rsa')
  })

  test('PKCS#1 PEM, SEC1 PEM and DER keys', async () => {
    const pkcs1 = join(dir, 'pkcs1.pem')
    await writeFile(pkcs1, rsa.keys.privateKey.export({ format: 'pem', type: 'pkcs1' }))
    const sec1 = join(dir, 'sec1.pem')
    await writeFile(sec1, ec.keys.privateKey.export({ format: 'pem', type: 'sec1' }))
    const der = join(dir, 'key.der')
    await writeFile(der, rsa.keys.privateKey.export({ format: 'der', type: 'pkcs1' }))
    const sec1Der = join(dir, 'sec1.der')
    await writeFile(sec1Der, ec.keys.privateKey.export({ format: 'der', type: 'sec1' }))
    await load({ private_key_location: pkcs1, public_key_location: rsa.certPem })
    await load({ private_key_location: der, public_key_location: rsa.certPem })
    await load({ private_key_location: sec1, public_key_location: ec.certPem, algorithm: 'ES256' })
    await load({
      private_key_location: sec1Der,
      public_key_location: ec.certDer,
      algorithm: 'ES256',
    })
  })

  test('a key made by openssl loads (traditional PEM from `openssl genrsa`)', async () => {
    const key = join(dir, 'openssl.key')
    const cert = join(dir, 'openssl.crt')
    await openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=openssl',
    ])
    const m = await load({ private_key_location: key, public_key_location: cert })
    assert.match(m.certificates[0]?.subject ?? '', /CN=openssl/)
  })

  test('encrypted PKCS#8 key: with its passphrase, without, and with a wrong one', async () => {
    const enc = join(dir, 'enc.pem')
    await writeFile(
      enc,
      rsa.keys.privateKey.export({
        format: 'pem',
        type: 'pkcs8',
        cipher: 'aes-256-cbc',
        passphrase: 's3cret-pass',
      }),
    )
    const m = await load({
      private_key_location: enc,
      public_key_location: rsa.certDer,
      private_key_passphrase: 's3cret-pass',
    })
    assert.equal(m.privateKey.type, 'private')
    await rejectsWith(
      { private_key_location: enc, public_key_location: rsa.certDer },
      'ERR_KEY_PASSPHRASE',
      /is encrypted and no passphrase is configured/,
    )
    await assert.rejects(
      load({
        private_key_location: enc,
        public_key_location: rsa.certDer,
        private_key_passphrase: 'Bad-Passphrase-42',
      }),
      (err: unknown) => {
        assert.ok(err instanceof KeyError)
        assert.equal(err.code, 'ERR_KEY_PASSPHRASE')
        assert.doesNotMatch(err.message, /Bad-Passphrase-42|s3cret/)
        return true
      },
    )
  })

  test('the passphrase may come from the environment', async () => {
    const enc = join(dir, 'enc-env.pem')
    await writeFile(
      enc,
      ec.keys.privateKey.export({
        format: 'pem',
        type: 'pkcs8',
        cipher: 'aes-128-cbc',
        passphrase: 'pw',
      }),
    )
    const options = resolveOptions(
      { private_key_location: enc, public_key_location: ec.certDer, algorithm: 'ES256' },
      { env: { KONG_UPSTREAM_JWT_KEY_PASSPHRASE: 'pw' } },
    )
    assert.equal((await loadKeyMaterial(options)).privateKey.asymmetricKeyType, 'ec')
  })

  test('missing private key file', async () => {
    await rejectsWith(
      { private_key_location: join(dir, 'nope.pem'), public_key_location: rsa.certDer },
      'ERR_KEY_NOT_FOUND',
      /private key file not found: .*nope\.pem/,
    )
  })

  test('missing certificate file', async () => {
    await rejectsWith(
      { private_key_location: rsa.key, public_key_location: join(dir, 'nope.cer') },
      'ERR_KEY_NOT_FOUND',
      /certificate file not found/,
    )
  })

  test('unreadable key path (a directory)', async () => {
    const sub = join(dir, 'a-dir')
    await mkdir(sub, { recursive: true })
    await rejectsWith(
      { private_key_location: sub, public_key_location: rsa.certDer },
      'ERR_KEY_UNREADABLE',
      /cannot be read: .*\(EISDIR\)/,
    )
  })

  test('no key configured: a config error that names the option and the env variable', async () => {
    await rejectsWith(
      {},
      'ERR_OPTION_INVALID',
      /private_key_location" is required \(or set KONG_SSL_CERT_KEY\)/,
    )
  })

  test('no certificate while x5c is wanted; none needed with x5c none', async () => {
    await rejectsWith(
      { private_key_location: rsa.key },
      'ERR_OPTION_INVALID',
      /public_key_location" is required .*x5c is "chain"/,
    )
    const m = await load({ private_key_location: rsa.key, x5c: 'none' })
    assert.equal(m.certificates.length, 0)
  })

  test('garbage and wrong formats', async () => {
    const junk = join(dir, 'junk.bin')
    await writeFile(junk, Buffer.from('not a key at all, not even DER'))
    await rejectsWith(
      { private_key_location: junk, public_key_location: rsa.certDer },
      'ERR_KEY_INVALID',
      /neither a PEM private key nor a DER one/,
    )
    await rejectsWith(
      { private_key_location: rsa.certPem, public_key_location: rsa.certDer },
      'ERR_KEY_INVALID',
      /holds no private key \(found: CERTIFICATE\)/,
    )
    await rejectsWith(
      { private_key_location: rsa.key, public_key_location: junk },
      'ERR_CERT_INVALID',
      /cannot be parsed/,
    )
    await rejectsWith(
      { private_key_location: rsa.key, public_key_location: rsa.key },
      'ERR_CERT_INVALID',
      /holds no CERTIFICATE block/,
    )
  })

  test('key and certificate that do not belong together', async () => {
    const other = await writeKeys(dir, 'RS256', { name: 'other' })
    await rejectsWith(
      { private_key_location: rsa.key, public_key_location: other.certDer },
      'ERR_KEY_MISMATCH',
      /does not belong to the certificate/,
    )
  })

  test('RSA-1024 is refused', async () => {
    const weak = join(dir, 'rsa1024.pem')
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    await writeFile(weak, privateKey.export({ format: 'pem', type: 'pkcs8' }))
    await rejectsWith(
      { private_key_location: weak, x5c: 'none' },
      'ERR_KEY_UNSUITABLE',
      /at least 2048 bits, but the key in .* has 1024/,
    )
  })

  test('an EC key with RS256, an RSA key with ES256, a P-384 key with ES256', async () => {
    await rejectsWith(
      { private_key_location: ec.key, public_key_location: ec.certDer },
      'ERR_KEY_UNSUITABLE',
      /RS256 needs an RSA key, but the key in .* is an EC key/,
    )
    await rejectsWith(
      { private_key_location: rsa.key, public_key_location: rsa.certDer, algorithm: 'ES256' },
      'ERR_KEY_UNSUITABLE',
      /ES256 needs an EC key/,
    )
    const p384 = await writeKeys(dir, 'ES384', { name: 'p384' })
    await rejectsWith(
      { private_key_location: p384.key, public_key_location: p384.certDer, algorithm: 'ES256' },
      'ERR_KEY_UNSUITABLE',
      /needs an EC key on P-256, but the key .* is on secp384r1/,
    )
  })

  test('expired and not-yet-valid certificates are refused; a near expiry warns', async () => {
    const old = await writeKeys(dir, 'RS256', {
      name: 'old',
      notBefore: new Date('2020-01-01'),
      notAfter: new Date('2021-01-01'),
    })
    await rejectsWith(
      { private_key_location: old.key, public_key_location: old.certDer },
      'ERR_SIGNING_CERT_EXPIRED',
      /expired on/,
    )
    const future = await writeKeys(dir, 'ES256', {
      name: 'future',
      notBefore: new Date(Date.now() + 86_400_000),
    })
    await rejectsWith(
      { private_key_location: future.key, public_key_location: future.certDer, algorithm: 'ES256' },
      'ERR_SIGNING_CERT_NOT_YET_VALID',
      /is not valid before/,
    )
    const soon = await writeKeys(dir, 'ES256', {
      name: 'soon',
      notAfter: new Date(Date.now() + 5 * 86_400_000),
    })
    const m = await load({
      private_key_location: soon.key,
      public_key_location: soon.certDer,
      algorithm: 'ES256',
    })
    assert.equal(m.warnings.length, 1)
    assert.match(m.warnings[0] ?? '', /certificate in .* expires on/)
  })

  test('a PEM chain, leaf first, is loaded whole; out of order is refused', async () => {
    const caKeys = await generateKeyPair({ type: 'ec' })
    const ca = await issueCertificate({ subject: 'chain CA', keys: caKeys, ca: true })
    const leaf = await writeKeys(dir, 'ES256', {
      name: 'leaf',
      issuer: { certificate: ca, keys: caKeys },
    })
    const chain = join(dir, 'chain.pem')
    await writeFile(chain, (await readFile(leaf.certPem, 'utf8')) + ca.toString())
    const m = await load({
      private_key_location: leaf.key,
      public_key_location: chain,
      algorithm: 'ES256',
    })
    assert.deepEqual(
      m.certificates.map((c) => c.subject),
      ['CN=test leaf', 'CN=chain CA'],
    )
    const reversed = join(dir, 'reversed.pem')
    await writeFile(reversed, ca.toString() + (await readFile(leaf.certPem, 'utf8')))
    await rejectsWith(
      { private_key_location: leaf.key, public_key_location: reversed, algorithm: 'ES256' },
      'ERR_KEY_MISMATCH',
      /does not belong/,
    )
    const unrelated = join(dir, 'unrelated.pem')
    await writeFile(unrelated, (await readFile(leaf.certPem, 'utf8')) + rsa.cert.toString())
    await rejectsWith(
      { private_key_location: leaf.key, public_key_location: unrelated, algorithm: 'ES256' },
      'ERR_CERT_INVALID',
      /not a chain in order/,
    )
  })

  test('a certificate whose keyUsage excludes signatures is refused at load', async () => {
    const { KeyUsage } = await import('../../src/keygen/certificates.js')
    const keys = await generateKeyPair({ type: 'ec' })
    const cert = await issueCertificate({
      subject: 'encipher only',
      keys,
      keyUsage: KeyUsage.keyEncipherment,
    })
    const key = join(dir, 'ku.key.pem')
    const certFile = join(dir, 'ku.cert.pem')
    await writeFile(key, keys.privateKey.export({ format: 'pem', type: 'pkcs8' }))
    await writeFile(certFile, cert.toString())
    await rejectsWith(
      { private_key_location: key, public_key_location: certFile, algorithm: 'ES256' },
      'ERR_CERT_INVALID',
      /keyUsage lacks digitalSignature/,
    )
  })

  test('Ed25519 and Ed448 keys fit EdDSA', async () => {
    const ed = await writeKeys(dir, 'EdDSA')
    const m = await load({
      private_key_location: ed.key,
      public_key_location: ed.certDer,
      algorithm: 'EdDSA',
    })
    assert.equal(m.privateKey.asymmetricKeyType, 'ed25519')
    const ed448 = join(dir, 'ed448.pem')
    await writeFile(
      ed448,
      generateKeyPairSync('ed448').privateKey.export({ format: 'pem', type: 'pkcs8' }),
    )
    const m448 = await load({ private_key_location: ed448, x5c: 'none', algorithm: 'EdDSA' })
    assert.equal(m448.privateKey.asymmetricKeyType, 'ed448')
    assert.equal(createPrivateKey(await readFile(ed448)).asymmetricKeyType, 'ed448')
  })
})
