import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { importX509, jwtVerify } from 'jose'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { cli, cliProcess } from '../helpers/cli.js'
import { openssl } from '../helpers/openssl.js'

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex')

describe('CLI', () => {
  let dir: string
  after(() => removeDir(dir))
  before(async () => {
    dir = await makeTempDir()
  })

  test('keygen writes key (0600), DER and PEM certificates and a chain', async () => {
    const out = join(dir, 'rsa')
    const r = await cli(['keygen', '--out', out])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /algorithm for this key: RS256/)
    assert.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600)
    const text = await openssl([
      'x509',
      '-inform',
      'DER',
      '-in',
      join(out, 'cert.cer'),
      '-noout',
      '-subject',
    ])
    assert.match(text, /CN ?= ?kong-upstream-jwt/)
    assert.equal(
      await readFile(join(out, 'chain.pem'), 'utf8'),
      await readFile(join(out, 'cert.pem'), 'utf8'),
    )
  })

  test('keygen refuses to overwrite without --force, and overwrites with it', async () => {
    const out = join(dir, 'rsa')
    const before = await readFile(join(out, 'key.pem'), 'utf8')
    const refused = await cli(['keygen', '--out', out])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /ERR_FILE_EXISTS: .*key\.pem already exists; use --force/)
    assert.equal(await readFile(join(out, 'key.pem'), 'utf8'), before)
    const forced = await cli(['keygen', '--out', out, '--force', '--type', 'ed25519'])
    assert.equal(forced.code, 0)
    assert.notEqual(await readFile(join(out, 'key.pem'), 'utf8'), before)
  })

  test('keygen --ca: the leaf verifies against ca.pem with openssl', async () => {
    const out = join(dir, 'ca')
    const r = await cli(['keygen', '--out', out, '--ca', '--type', 'ec', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const files = JSON.parse(r.stdout)
    assert.equal(files.algorithm, 'ES256')
    assert.equal((await stat(files.caKey)).mode & 0o777, 0o600)
    const verified = await openssl(['verify', '-CAfile', files.caCert, files.certPem])
    assert.match(verified, /OK/)
    const chain = await readFile(files.chain, 'utf8')
    assert.equal(chain.match(/BEGIN CERTIFICATE/g)?.length, 2)
  })

  test('sign reads the body from stdin, and jose verifies the token with its x5c', async () => {
    const keys = join(dir, 'ca')
    const body = '{"order":42}'
    const r = await cli(
      [
        'sign',
        '-k',
        join(keys, 'key.pem'),
        '-c',
        join(keys, 'chain.pem'),
        '--algorithm',
        'ES256',
        '--issuer',
        'cli',
        '--service',
        'orders',
        '--consumer-id',
        'c-1',
        '--consumer-name',
        'alice',
      ],
      { stdin: body },
    )
    assert.equal(r.code, 0, r.stderr)
    const token = r.stdout.trim()
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())
    assert.equal(header.x5c.length, 2)
    const pem = `-----BEGIN CERTIFICATE-----\n${header.x5c[0]}\n-----END CERTIFICATE-----`
    const { payload } = await jwtVerify(token, await importX509(pem, 'ES256'), {
      issuer: 'cli',
      audience: 'orders',
    })
    assert.equal(payload.payloadhash, sha256(body))
    assert.equal(payload.consumerid, 'c-1')
    assert.equal(payload.consumername, 'alice')
  })

  test('sign --body-file, --url binding and --json', async () => {
    const keys = join(dir, 'ca')
    const file = join(dir, 'body.bin')
    await writeFile(file, Buffer.from([1, 2, 3, 0, 255]))
    const r = await cli([
      'sign',
      '-k',
      join(keys, 'key.pem'),
      '-c',
      join(keys, 'cert.cer'),
      '--algorithm',
      'ES256',
      '--body-file',
      file,
      '-X',
      'PUT',
      '--url',
      'https://api.example:443/v1/x?y=1',
      '--bind-request',
      '--json',
      '--headers-to-claims',
      'x-request-id=rid',
      '-H',
      'X-Request-Id: abc',
    ])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.header, 'JWT')
    assert.equal(out.claims.payloadhash, sha256(Buffer.from([1, 2, 3, 0, 255])))
    assert.equal(out.claims.htm, 'PUT')
    assert.equal(out.claims.htu, 'https://api.example/v1/x')
    assert.equal(out.claims.htq, createHash('sha256').update('y=1').digest('base64url'))
    assert.equal(out.claims.rid, 'abc')
    assert.equal(out.value, out.token)
  })

  test('sign from a terminal with no body file: no body, payloadhash ""', async () => {
    const keys = join(dir, 'ca')
    const r = await cli([
      'sign',
      '-k',
      join(keys, 'key.pem'),
      '-c',
      join(keys, 'cert.cer'),
      '--algorithm',
      'ES256',
      '--json',
    ])
    assert.equal(JSON.parse(r.stdout).claims.payloadhash, '')
  })

  test('sign with a bad key: exit 1, typed error, no key material printed; a missing key file: exit 2', async () => {
    const r = await cli([
      'sign',
      '-k',
      join(dir, 'ca', 'cert.pem'),
      '-c',
      join(dir, 'ca', 'cert.cer'),
    ])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^kong-upstream-jwt: ERR_KEY_INVALID: /)
    assert.doesNotMatch(r.stderr, /MII/)
    const json = await cli([
      'sign',
      '-k',
      join(dir, 'nope.pem'),
      '-c',
      join(dir, 'ca', 'cert.cer'),
      '--json',
    ])
    // A file that cannot be read is a usage error naming the flag and the file.
    assert.equal(json.code, 2)
    assert.equal(JSON.parse(json.stdout).code, 'ERR_USAGE')
    assert.match(JSON.parse(json.stdout).message, /^--key .*nope\.pem: no such file$/)
  })

  test('the environment variables of the original select the key', async () => {
    const keys = join(dir, 'ca')
    const r = await cli(['sign', '--algorithm', 'ES256'], {
      env: { KONG_SSL_CERT_KEY: join(keys, 'key.pem'), KONG_SSL_CERT_DER: join(keys, 'cert.cer') },
    })
    assert.equal(r.code, 0, r.stderr)
  })

  test('inspect: human output says UNVERIFIED and shows claims and certificates', async () => {
    const keys = join(dir, 'ca')
    const token = (
      await cli([
        'sign',
        '-k',
        join(keys, 'key.pem'),
        '-c',
        join(keys, 'chain.pem'),
        '--algorithm',
        'ES256',
        '--issuer',
        'me',
      ])
    ).stdout.trim()
    const r = await cli(['inspect', `Bearer ${token}`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^UNVERIFIED/)
    assert.match(r.stdout, /iss: "me"/)
    assert.match(r.stdout, /exp: \d+ \(\d{4}-\d\d-\d\dT.*, in (59|60) s\)/)
    assert.match(r.stdout, /Certificate x5c\[1\] \(CA\)/)
    assert.match(r.stdout, /sha256: +([0-9A-F]{2}:){31}[0-9A-F]{2}/)
    const json = JSON.parse((await cli(['inspect', '--json'], { stdin: token })).stdout)
    assert.equal(json.verified, false)
    assert.equal(json.claims.iss, 'me')
    assert.equal(json.certificates.length, 2)
    assert.equal(json.certificates[0].encoding, 'base64')
  })

  test('inspect recognises the legacy base64url x5c', async () => {
    const keys = join(dir, 'rsa')
    const token = (
      await cli([
        'sign',
        '-k',
        join(keys, 'key.pem'),
        '-c',
        join(keys, 'cert.cer'),
        '--algorithm',
        'EdDSA',
        '--x5c-encoding',
        'base64url',
      ])
    ).stdout.trim()
    const json = JSON.parse((await cli(['inspect', token, '--json'])).stdout)
    assert.match(json.certificates[0].encoding, /base64url \(legacy/)
  })

  test('inspect of garbage: exit 1 with ERR_TOKEN_MALFORMED, the input not echoed', async () => {
    const r = await cli(['inspect', 'not-a-token-secret123'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /ERR_TOKEN_MALFORMED: token has 1 parts/)
    assert.doesNotMatch(r.stderr, /secret123/)
  })

  test('inspect and gateway: an input file that cannot be read, or no token, is a usage error naming it', async () => {
    const token = await cli(['inspect', '--token-file', join(dir, 'gone.txt')])
    assert.equal(token.code, 2)
    assert.match(token.stderr, /^kong-upstream-jwt: --token-file .*gone\.txt: no such file\n$/)
    const none = await cli(['inspect']) // standard input is a terminal
    assert.equal(none.code, 2)
    assert.match(
      none.stderr,
      /no token: give it as an argument, with --token-file FILE, or on standard input/,
    )
    const config = await cli([
      'gateway',
      '--config',
      join(dir, 'gone.yml'),
      '--admin-listen',
      'off',
    ])
    assert.equal(config.code, 2)
    assert.match(config.stderr, /^kong-upstream-jwt: --config .*gone\.yml: no such file\n$/)
  })

  test('jwks prints the public key set', async () => {
    const keys = join(dir, 'ca')
    const r = await cli([
      'jwks',
      '-k',
      join(keys, 'key.pem'),
      '-c',
      join(keys, 'chain.pem'),
      '--algorithm',
      'ES256',
      '--key-id',
      'auto',
    ])
    assert.equal(r.code, 0, r.stderr)
    const jwks = JSON.parse(r.stdout)
    assert.equal(jwks.keys.length, 1)
    assert.equal(jwks.keys[0].crv, 'P-256')
    assert.equal(jwks.keys[0].x5c.length, 2)
    assert.equal(jwks.keys[0].d, undefined)
  })

  test('the real process: exit codes 0, 1 and 2 and piping', async () => {
    const keys = join(dir, 'ca')
    const ok = await cliProcess(
      ['sign', '-k', join(keys, 'key.pem'), '-c', join(keys, 'cert.cer'), '--algorithm', 'ES256'],
      { stdin: 'piped body' },
    )
    assert.equal(ok.code, 0, ok.stderr)
    const inspected = await cliProcess(['inspect', '--json'], { stdin: ok.stdout })
    assert.equal(inspected.code, 0, inspected.stderr)
    assert.equal(JSON.parse(inspected.stdout).claims.payloadhash, sha256('piped body'))
    assert.equal((await cliProcess(['inspect', 'x.y'])).code, 1)
    const usage = await cliProcess(['sign', '--nope'])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /unknown option '--nope'/)
  })
})
