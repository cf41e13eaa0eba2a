import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { cli, cliProcess, signArgs } from '../helpers/cli.js'

const URL_ = 'https://orders.internal/v1/orders?a=1'

describe('CLI sign/verify with HTTP Message Signatures', () => {
  let dir: string
  let pki: Pki
  let bodyFile: string
  after(() => removeDir(dir))
  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    bodyFile = join(dir, 'body.json')
    await writeFile(bodyFile, '{"a":1}')
  })
  const sign = (mode: string, ...extra: string[]) =>
    cli(
      signArgs(
        pki,
        '--algorithm',
        'ES256',
        '--issuer',
        'gw',
        '--signature-mode',
        mode,
        '--method',
        'POST',
        '--url',
        URL_,
        '--body-file',
        bodyFile,
        '-H',
        'content-type: application/json',
        ...extra,
      ),
    )
  const headerArgs = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .flatMap((line) => ['--header', line])

  test('sign prints the header lines; verify --header checks them', async () => {
    const signed = await sign('http-signature')
    assert.equal(signed.code, 0, signed.stderr)
    const names = signed.stdout
      .trim()
      .split('\n')
      .map((l) => l.slice(0, l.indexOf(':')))
    assert.deepEqual(names, ['Content-Digest', 'Signature-Input', 'Signature'])
    const args = [
      'verify',
      '--signature-mode',
      'http-signature',
      ...headerArgs(signed.stdout),
      '--header',
      'Content-Type: application/json',
      '--method',
      'POST',
      '--url',
      URL_,
      '--cert',
      pki.files.chain,
    ]
    const ok = await cli([...args, '--body-file', bodyFile])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, /^VALID/)
    assert.match(ok.stdout, /"alg":"ecdsa-p256-sha256"/)
    const other = join(dir, 'other.json')
    await writeFile(other, '{"a":2}')
    const bad = await cli([...args, '--body-file', other])
    assert.equal(bad.code, 1)
    assert.match(bad.stdout, /FAIL {2}Content-Digest against the body: ERR_BODY_HASH_MISMATCH/)
    const moved = await cli([
      ...args.map((a) => (a === URL_ ? URL_.replace('a=1', 'a=2') : a)),
      '--body-file',
      bodyFile,
      '--json',
    ])
    assert.equal(moved.code, 1)
    assert.equal(JSON.parse(moved.stdout).code, 'ERR_SIGNATURE_INVALID')
  })

  test('both mode, as a real process: the JWT and the signature from --header lines', async () => {
    const signed = await sign('both')
    assert.equal(signed.code, 0, signed.stderr)
    assert.match(signed.stdout, /^JWT: ey/m)
    const r = await cliProcess([
      'verify',
      '--signature-mode',
      'both',
      ...headerArgs(signed.stdout),
      '--header',
      'Content-Type: application/json',
      '--method',
      'POST',
      '--url',
      URL_,
      '--ca',
      pki.files.rootPem,
      '--issuer',
      'gw',
      '--body-file',
      bodyFile,
    ])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.equal(r.stdout.match(/ {2}pass {2}/g)?.length, 13)
  })

  test('sign refuses an algorithm without an RFC 9421 name, with the reason', async () => {
    const r = await cli(signArgs(pki, '--algorithm', 'ES512', '--signature-mode', 'http-signature'))
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /RFC 9421 defines no algorithm for ES512/)
  })
})
