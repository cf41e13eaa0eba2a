import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { cli, cliProcess, signArgs } from '../helpers/cli.js'

describe('CLI verify', () => {
  let dir: string
  let pki: Pki
  let bodyFile: string
  const sign = async (...extra: string[]) =>
    (
      await cli(
        signArgs(pki, '--algorithm', 'ES256', '--issuer', 'gw', '--body-file', bodyFile, ...extra),
      )
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
    assert.equal(missing.code, 2)
    assert.equal(JSON.parse(missing.stdout).code, 'ERR_USAGE')
    assert.match(JSON.parse(missing.stdout).message, /^--ca .*nope\.pem: no such file$/)
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

  test('without --audience: valid, but the report and --json warn that the audience was not checked', async () => {
    const token = await sign('--service', 'orders')
    const base = ['verify', '--token', token, '--body-file', bodyFile, '--ca', pki.files.rootPem]
    const text = await cli(base)
    assert.equal(text.code, 0, text.stdout)
    assert.match(text.stdout, /^ {2}WARN {2}audience not checked \(no --audience\)/m)
    const json = JSON.parse((await cli([...base, '--json'])).stdout)
    assert.equal(json.valid, true)
    assert.equal(json.warnings.length, 1)
    assert.match(json.warnings[0], /audience not checked/)
    const checked = await cli([...base, '--audience', 'orders', '--json'])
    assert.equal(checked.code, 0)
    assert.deepEqual(JSON.parse(checked.stdout).warnings, [])
    const other = await cli([...base, '--audience', 'billing', '--json'])
    assert.equal(other.code, 1)
    assert.equal(JSON.parse(other.stdout).code, 'ERR_CLAIM_INVALID')
    assert.match(
      JSON.parse(other.stdout).message,
      /"aud" claim "orders" is not the expected "billing"/,
    )
    const invalidText = await cli([...base.slice(0, 3), '--ca', pki.files.rootPem])
    assert.equal(invalidText.code, 1, 'no body: hash mismatch')
    assert.match(invalidText.stdout, /WARN {2}audience not checked/)
  })

  test('input files that cannot be read: exit 2, ERR_USAGE, the flag and the file named', async () => {
    const token = await sign()
    const nope = join(dir, 'nope.json')
    const cases: [string[], RegExp][] = [
      [
        ['--token', token, '--body-file', nope, '--ca', pki.files.rootPem],
        /^--body-file .*nope\.json: no such file$/,
      ],
      [
        ['--token', token, '--body-file', dir, '--ca', pki.files.rootPem],
        /^--body-file .*: is a folder, not a file$/,
      ],
      [
        ['--token-file', nope, '--ca', pki.files.rootPem],
        /^--token-file .*nope\.json: no such file$/,
      ],
      [['--token', token, '--cert', nope], /^--cert .*nope\.json: no such file$/],
      [['--token', token, '--jwks', nope], /^--jwks .*nope\.json: no such file$/],
    ]
    for (const [args, message] of cases) {
      const text = await cli(['verify', ...args])
      assert.equal(text.code, 2, args.join(' '))
      assert.match(
        text.stderr.trimEnd(),
        new RegExp(message.source.replace('^', '^kong-upstream-jwt: ')),
      )
      const json = await cli(['verify', ...args, '--json'])
      assert.equal(json.code, 2)
      const out = JSON.parse(json.stdout)
      assert.deepEqual([out.valid, out.code], [false, 'ERR_USAGE'])
      assert.match(out.message, message)
    }
  })

  test('no token: exit 2, and the message says how to give one', async () => {
    const how = /--token TOKEN, --token-file FILE, or on standard input/
    const terminal = await cli(['verify', '--ca', pki.files.rootPem]) // stdin is a terminal
    assert.equal(terminal.code, 2)
    assert.match(terminal.stderr, /no token: /)
    assert.match(terminal.stderr, how)
    const empty = await cli(['verify', '--ca', pki.files.rootPem, '--json'], { stdin: '\n' })
    assert.equal(empty.code, 2)
    assert.equal(JSON.parse(empty.stdout).code, 'ERR_USAGE')
    assert.match(JSON.parse(empty.stdout).message, /standard input was empty/)
    const blank = await cli(['verify', '--token', '', '--ca', pki.files.rootPem])
    assert.match(blank.stderr, /--token is empty/)
  })

  test('sign: out-of-range values and unreadable files are usage errors; key type messages read "an EC key"', async () => {
    const ttl = await cli(['sign', '-k', pki.files.key, '-c', pki.files.chain, '--token-ttl', '0'])
    assert.equal(ttl.code, 2)
    assert.match(
      ttl.stderr,
      /^kong-upstream-jwt: --token-ttl must be between 1 and 86400 \(got 0\)/,
    )
    const body = await cli(signArgs(pki, '--body-file', join(dir, 'gone.json'), '--json'))
    assert.equal(body.code, 2)
    assert.match(JSON.parse(body.stdout).message, /^--body-file .*gone\.json: no such file$/)
    const rsa = await cli(signArgs(pki, '--algorithm', 'RS256'))
    assert.equal(rsa.code, 1)
    assert.match(rsa.stderr, /needs an RSA key, but the key in .* is an EC key/)
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
