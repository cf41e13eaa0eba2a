import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { cli, cliProcess } from '../helpers/cli.js'

describe('CLI verify', () => {
  let dir: string
  let pki: Pki
  let bodyFile: string
  const sign = async (...extra: string[]) =>
    (
      await cli([
        'sign',
        '-k',
        pki.files.key,
        '-c',
        pki.files.chain,
        '--algorithm',
        'ES256',
        '--issuer',
        'gw',
        '--body-file',
        bodyFile,
        ...extra,
      ])
    ).stdout.trim()
  after(() => removeDir(dir))
  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    bodyFile = join(dir, 'body.json')
    await writeFile(bodyFile, '{"a":1}')
  })

  test('a valid token: exit 0, every check listed as passed', async () => {
    const token = await sign()
    const r = await cli([
      'verify',
      '--token',
      `Bearer ${token}`,
      '--body-file',
      bodyFile,
      '--ca',
      pki.files.rootPem,
      '--issuer',
      'gw',
    ])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /^VALID/)
    assert.equal(r.stdout.match(/ {2}pass {2}/g)?.length, 7)
  })

  test('a changed body: exit 1, the failing check named, later checks not run', async () => {
    const token = await sign()
    const other = join(dir, 'other.json')
    await writeFile(other, '{"a":2}')
    const r = await cli([
      'verify',
      '--token',
      token,
      '--body-file',
      other,
      '--ca',
      pki.files.rootPem,
    ])
    assert.equal(r.code, 1)
    assert.match(r.stdout, /^INVALID/)
    assert.match(r.stdout, /FAIL {2}body hash \(payloadhash\): ERR_BODY_HASH_MISMATCH/)
    assert.match(r.stdout, /pass {2}signature/)
    assert.match(r.stdout, /---- {2}request binding .*not checked/)
  })

  test('--json for valid, invalid and usage errors; the token from stdin', async () => {
    const token = await sign()
    const ok = await cli(['verify', '--body-file', bodyFile, '--ca', pki.files.rootPem, '--json'], {
      stdin: token,
    })
    assert.equal(ok.code, 0)
    const okJson = JSON.parse(ok.stdout)
    assert.equal(okJson.valid, true)
    assert.equal(okJson.claims.iss, 'gw')
    const bad = await cli([
      'verify',
      '--token',
      token,
      '--ca',
      pki.files.rootPem,
      '--json',
      '--issuer',
      'someone-else',
    ])
    assert.equal(bad.code, 1)
    assert.deepEqual(
      [JSON.parse(bad.stdout).valid, JSON.parse(bad.stdout).code],
      [false, 'ERR_CLAIM_INVALID'],
    )
    const usage = await cli(['verify', '--token', token, '--json'])
    assert.equal(usage.code, 2)
    assert.deepEqual(
      [JSON.parse(usage.stdout).valid, JSON.parse(usage.stdout).code],
      [false, 'ERR_USAGE'],
    )
    const unknown = await cli(['verify', '--bogus', '--json'])
    assert.equal(unknown.code, 2)
    assert.equal(JSON.parse(unknown.stdout).code, 'ERR_USAGE')
  })

  test("a token not signed by the truststore's CA; a pinned certificate; a missing trust file", async () => {
    const token = await sign()
    const strangerDir = join(dir, 'stranger')
    await mkdir(strangerDir)
    const stranger = await makePki(strangerDir)
    const r = await cli([
      'verify',
      '--token',
      token,
      '--body-file',
      bodyFile,
      '--ca',
      stranger.files.rootPem,
      '--json',
    ])
    assert.equal(JSON.parse(r.stdout).code, 'ERR_CERT_UNTRUSTED')
    const pinned = join(dir, 'leaf.pem')
    await writeFile(pinned, pki.leaf.cert.toString())
    assert.equal(
      (await cli(['verify', '--token', token, '--body-file', bodyFile, '--cert', pinned])).code,
      0,
    )
    const missing = await cli(['verify', '--token', token, '--ca', join(dir, 'nope.pem'), '--json'])
    assert.equal(missing.code, 1)
    assert.equal(JSON.parse(missing.stdout).code, 'ERR_KEY_NOT_FOUND')
  })

  test('binding: --method and --url', async () => {
    const token = await sign(
      '--bind-request',
      '-X',
      'POST',
      '--url',
      'http://orders.internal/v1?x=1',
    )
    const ok = await cli([
      'verify',
      '--token',
      token,
      '--body-file',
      bodyFile,
      '--ca',
      pki.files.rootPem,
      '-X',
      'POST',
      '--url',
      'http://orders.internal/v1?x=1',
    ])
    assert.equal(ok.code, 0, ok.stdout)
    const bad = await cli([
      'verify',
      '--token',
      token,
      '--body-file',
      bodyFile,
      '--ca',
      pki.files.rootPem,
      '-X',
      'POST',
      '--url',
      'http://orders.internal/v2?x=1',
      '--json',
    ])
    assert.equal(JSON.parse(bad.stdout).code, 'ERR_BINDING_MISMATCH')
  })

  test('the real process pipes sign into verify', async () => {
    const token = await sign()
    const r = await cliProcess(['verify', '--body-file', bodyFile, '--ca', pki.files.rootPem], {
      stdin: token,
    })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^VALID/)
  })
})
