/**
 * Every algorithm's tokens checked by independent implementations: `jose` (with the key taken
 * from the token's own x5c) and the `openssl` CLI over the signing input.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { importX509, jwtVerify } from 'jose'
import { ALGORITHMS, type Algorithm } from '../../src/core/algorithms.js'
import { digestBytes } from '../../src/core/body-digest.js'
import { createSigner } from '../../src/signer/signer.js'
import { type KeyFiles, writeKeys } from '../../testing/keys.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { openssl, p1363ToDer } from '../helpers/openssl.js'

function pemOf(x5c: string): string {
  return `-----BEGIN CERTIFICATE-----\n${x5c.match(/.{1,64}/g)?.join('\n')}\n-----END CERTIFICATE-----\n`
}

async function opensslVerify(
  dir: string,
  alg: Algorithm,
  token: string,
  certDer: Buffer,
): Promise<string> {
  const [h, p, s] = token.split('.') as [string, string, string]
  const input = join(dir, `${alg}.input`)
  const sigFile = join(dir, `${alg}.sig`)
  const certFile = join(dir, `${alg}.x5c.der`)
  const pub = join(dir, `${alg}.pub.pem`)
  await writeFile(input, `${h}.${p}`)
  await writeFile(certFile, certDer)
  await writeFile(
    pub,
    await openssl(['x509', '-inform', 'DER', '-in', certFile, '-pubkey', '-noout']),
  )
  let sig: Buffer = Buffer.from(s, 'base64url')
  if (alg.startsWith('ES')) sig = p1363ToDer(sig)
  await writeFile(sigFile, sig)
  if (alg === 'EdDSA') {
    return openssl([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      pub,
      '-rawin',
      '-in',
      input,
      '-sigfile',
      sigFile,
    ])
  }
  const pss = alg.startsWith('PS')
    ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1']
    : []
  return openssl([
    'dgst',
    `-sha${alg.slice(2)}`,
    ...pss,
    '-verify',
    pub,
    '-signature',
    sigFile,
    input,
  ])
}

describe('tokens verify with jose and openssl', () => {
  let dir: string
  const keys = new Map<Algorithm, KeyFiles>()
  after(() => removeDir(dir))
  before(async () => {
    dir = await makeTempDir()
    for (const alg of ALGORITHMS) {
      // PS* reuse the RS256 key type; a fresh key each keeps the checks independent.
      keys.set(alg, await writeKeys(dir, alg))
    }
  })

  for (const alg of ALGORITHMS) {
    test(alg, async () => {
      const files = keys.get(alg)!
      const signer = await createSigner(
        {
          private_key_location: files.key,
          public_key_location: files.certDer,
          algorithm: alg,
          issuer: 'gw',
        },
        { env: {} },
      )
      const body = digestBytes('{"hello":"world"}')
      const token = await signer.sign({ method: 'POST', body, service: { name: 'orders' } })
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())
      assert.equal(header.alg, alg)
      assert.equal(header.x5c.length, 1)

      const key = await importX509(pemOf(header.x5c[0]), alg)
      const { payload, protectedHeader } = await jwtVerify(token, key, {
        algorithms: [alg],
        issuer: 'gw',
        audience: 'orders',
      })
      assert.equal(protectedHeader.typ, 'JWT')
      assert.equal(payload.payloadhash, body.sha256)

      const out = await opensslVerify(dir, alg, token, Buffer.from(header.x5c[0], 'base64'))
      assert.match(out, /Verified OK|Signature Verified Successfully/)

      const tampered = `${token.slice(0, -6)}${token.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`
      await assert.rejects(opensslVerify(dir, alg, tampered, Buffer.from(header.x5c[0], 'base64')))
      signer.close()
    })
  }

  test('the x5c certificate is the DER certificate openssl reads', async () => {
    const files = keys.get('RS256')!
    const signer = await createSigner(
      { private_key_location: files.key, public_key_location: files.certPem },
      { env: {} },
    )
    const token = await signer.sign()
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())
    const der = join(dir, 'x5c.der')
    await writeFile(der, Buffer.from(header.x5c[0], 'base64'))
    const text = await openssl([
      'x509',
      '-inform',
      'DER',
      '-in',
      der,
      '-noout',
      '-subject',
      '-fingerprint',
      '-sha256',
    ])
    assert.match(text, /subject=CN ?= ?test rs256/)
    const fingerprint = files.cert.fingerprint256
    assert.ok(text.toUpperCase().includes(fingerprint), `${text} has ${fingerprint}`)
  })
})
