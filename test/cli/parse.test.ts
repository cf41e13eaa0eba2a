import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseCli, UsageError } from '../../src/cli/parse.js'

const cases: [string, string[], Record<string, unknown>][] = [
  [
    'keygen defaults',
    ['keygen', '--out', 'k'],
    {
      kind: 'keygen',
      json: false,
      options: {
        out: 'k',
        type: 'rsa',
        bits: 2048,
        curve: 'P-256',
        ca: false,
        subject: 'kong-upstream-jwt',
        days: 365,
        force: false,
      },
    },
  ],
  [
    'keygen ec with CA',
    [
      'keygen',
      '-o',
      'k',
      '--type',
      'ec',
      '--curve',
      'P-384',
      '--ca',
      '--days',
      '7',
      '--force',
      '--json',
    ],
    {
      kind: 'keygen',
      json: true,
      options: {
        out: 'k',
        type: 'ec',
        bits: 2048,
        curve: 'P-384',
        ca: true,
        subject: 'kong-upstream-jwt',
        days: 7,
        force: true,
      },
    },
  ],
  [
    'sign with key aliases and signer flags',
    [
      'sign',
      '-k',
      'key.pem',
      '-c',
      'cert.cer',
      '--algorithm',
      'ES256',
      '--issuer',
      'gw',
      '--token-ttl',
      '30',
      '--no-include-iat',
      '--x5c',
      'leaf',
    ],
    {
      kind: 'sign',
      json: false,
      signer: {
        private_key_location: 'key.pem',
        public_key_location: 'cert.cer',
        algorithm: 'ES256',
        issuer: 'gw',
        token_ttl: 30,
        include_iat: false,
        x5c: 'leaf',
      },
    },
  ],
  [
    "sign: absent flags stay absent (the table's defaults apply)",
    ['sign'],
    { kind: 'sign', signer: {} },
  ],
  [
    'sign: long option names work too',
    ['sign', '--private-key-location', 'k.pem', '--include-credential-type'],
    { kind: 'sign', signer: { private_key_location: 'k.pem', include_credential_type: true } },
  ],
  [
    'sign: map and record options',
    [
      'sign',
      '--headers-to-claims',
      'x-a=a',
      '--headers-to-claims',
      'x-b=b',
      '--claims',
      '{"env":"dev"}',
    ],
    {
      kind: 'sign',
      signer: { headers_to_claims: { 'x-a': 'a', 'x-b': 'b' }, claims: { env: 'dev' } },
    },
  ],
  [
    'inspect with a token',
    ['inspect', 'a.b.c', '--json'],
    { kind: 'inspect', token: 'a.b.c', tokenFile: undefined, json: true },
  ],
  [
    'jwks',
    ['jwks', '-k', 'key.pem', '--key-id', 'auto'],
    { kind: 'jwks', signer: { private_key_location: 'key.pem', key_id: 'auto' } },
  ],
]

function pick(actual: unknown, expected: unknown): unknown {
  if (
    typeof expected !== 'object' ||
    expected === null ||
    typeof actual !== 'object' ||
    actual === null
  )
    return actual
  return Object.fromEntries(
    Object.keys(expected).map((k) => [
      k,
      pick((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k]),
    ]),
  )
}

for (const [name, argv, expected] of cases) {
  test(`parses: ${name}`, () => {
    assert.deepEqual(pick(parseCli(argv), expected), expected)
  })
}

test('sign request flags become a request description', () => {
  const c = parseCli([
    'sign',
    '-X',
    'post',
    '--url',
    'http://h/p?q=1',
    '--service',
    'orders',
    '--consumer-id',
    'c1',
    '--consumer-name',
    'al',
    '-H',
    'X-A: 1',
    '-H',
    'x-a:2',
    '--body-file',
    '-',
  ])
  assert.equal(c.kind, 'sign')
  if (c.kind !== 'sign') return
  assert.deepEqual(c.request, {
    method: 'post',
    url: 'http://h/p?q=1',
    service: 'orders',
    consumerId: 'c1',
    consumerName: 'al',
    consumerCustomId: undefined,
    headers: { 'x-a': '1, 2' },
    bodyFile: '-',
  })
})

const usage: [string, string[], RegExp][] = [
  ['unknown option', ['sign', '--bogus'], /unknown option '--bogus'/],
  [
    'bad enum value',
    ['sign', '--algorithm', 'HS256'],
    /argument 'HS256' is invalid. Allowed choices are RS256/,
  ],
  ['bad integer', ['sign', '--token-ttl', 'ten'], /must be an integer/],
  ['missing required', ['keygen'], /required option '-o, --out <dir>' not specified/],
  ['weak RSA', ['keygen', '--out', 'k', '--bits', '1024'], /--bits must be at least 2048/],
  ['bad map', ['sign', '--headers-to-claims', 'novalue'], /must be NAME=VALUE or a JSON object/],
  ['bad header', ['sign', '-H', 'novalue'], /must be NAME:VALUE/],
  ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
  ['token twice', ['inspect', 'a.b.c', '--token-file', 'f'], /not both/],
]

for (const [name, argv, message] of usage) {
  test(`usage error: ${name}`, () => {
    assert.throws(
      () => parseCli(argv),
      (err: unknown) => {
        assert.ok(err instanceof UsageError)
        assert.equal(err.code, 'ERR_USAGE')
        assert.match(err.message, message)
        return true
      },
    )
  })
}

test('--help and --version are output, exit 0; no command prints help, exit 2', () => {
  const help = parseCli(['sign', '--help'])
  assert.equal(help.kind, 'output')
  if (help.kind === 'output') {
    assert.equal(help.exitCode, 0)
    assert.match(help.text, /--token-ttl <n>/)
    assert.match(help.text, /--bind-request/)
    assert.doesNotMatch(help.text, /--private-key-passphrase/, 'secrets are not flags')
  }
  const version = parseCli(['--version'])
  assert.equal(version.kind === 'output' && /^\d+\.\d+\.\d+/.test(version.text), true)
  const none = parseCli([])
  assert.equal(none.kind === 'output' && none.exitCode, 2)
})
