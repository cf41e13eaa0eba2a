/**
 * Writes the conformance vectors in `vectors/`: one JSON file per case, made with our signer's
 * own modules (options, header, claims, JWS) and the fixed test PKI in `vectors/pki/`.
 *
 *   npm run vectors               regenerate the tokens with the PKI that is there
 *   npm run vectors -- --new-pki  make a new PKI first (every token changes)
 *   npm run vectors -- --check    write nothing; exit 1 when a checked-in vector differs from
 *                                 what this script makes (tokens of ES and PS cases excepted)
 *
 * Tokens are deterministic where the algorithm is (RSASSA-PKCS1-v1_5, Ed25519): ids and times
 * are fixed. ECDSA and RSA-PSS signatures are randomised, so a case of theirs whose token
 * differs only in its signature is left as it is: a regeneration rewrites only what changed. The expected outcome
 * of each case is written here by hand, never taken from our verifier, so the test that runs
 * our verifier over the vectors can fail.
 */
import {
  createHash,
  createHmac,
  createPrivateKey,
  type KeyObject,
  sign,
  X509Certificate,
} from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Algorithm, signKeyInput } from '../src/core/algorithms.js'
import { digestBytes } from '../src/core/body-digest.js'
import {
  type GeneratedKeyPair,
  generateKeyPair,
  issueCertificate,
  KeyUsage,
  privateKeyPem,
} from '../src/keygen/certificates.js'
import { resolveOptions } from '../src/options/resolve.js'
import type { SignerOptions } from '../src/options/table.js'
import { buildClaims } from '../src/signer/claims.js'
import type { RequestFacts } from '../src/signer/facts.js'
import { buildHeader, createSigningKey, encodeJson, signCompactSync } from '../src/signer/jws.js'
import { loadKeyMaterial } from '../src/signer/keys.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(ROOT, 'vectors')
const PKI = join(OUT, 'pki')

/** The verifier's "now" for every vector: 2026-01-01T00:00:00Z. */
const NOW = 1767225600
const PKI_FROM = new Date('2025-01-01T00:00:00Z')
const PKI_TO = new Date('2046-01-01T00:00:00Z')

/** The rule a case targets, in the order a verifier applies them (README "Verify in any language"). */
type Check =
  | 'size'
  | 'structure'
  | 'header'
  | 'algorithm'
  | 'chain'
  | 'key_usage'
  | 'signature'
  | 'claims'
  | 'body_hash'
  | 'binding'

interface Policy {
  ca: string
  audience: string | string[] | null
  issuer: string | null
  clock_tolerance: number
  legacy_x5c: boolean
}

interface Vector {
  name: string
  description: string
  token: string
  body_base64: string
  request: { method: string; url: string } | null
  policy: Policy
  now: number
  expected: 'valid' | 'invalid'
  error: string | null
  check: Check | null
}

// ---------------------------------------------------------------------------------------------
// The test PKI: made once (`--new-pki`), then kept. Only the keys that sign tokens are written.

interface Made {
  keys: GeneratedKeyPair
  cert: X509Certificate
}

async function make(
  subject: string,
  spec: Parameters<typeof generateKeyPair>[0],
  issuer: Made | undefined,
  extra: {
    ca?: boolean
    pathLength?: number
    notBefore?: Date
    notAfter?: Date
    keyUsage?: number
  },
): Promise<Made> {
  const keys = await generateKeyPair(spec)
  const cert = await issueCertificate({
    subject,
    keys,
    notBefore: PKI_FROM,
    notAfter: PKI_TO,
    ...(issuer ? { issuer: { certificate: issuer.cert, keys: issuer.keys } } : {}),
    ...extra,
  })
  return { keys, cert }
}

function pem(...certs: Made[]): string {
  return certs.map((c) => c.cert.toString()).join('')
}

async function makePki(): Promise<void> {
  rmSync(PKI, { recursive: true, force: true })
  mkdirSync(PKI, { recursive: true })
  const write = (name: string, text: string) => writeFileSync(join(PKI, name), text)
  const rsa = { type: 'rsa', bits: 2048 } as const
  const p256 = { type: 'ec', curve: 'P-256' } as const
  const root = await make('Conformance Test Root CA', rsa, undefined, { ca: true })
  const intermediate = await make('Conformance Test Intermediate CA', p256, root, {
    ca: true,
    pathLength: 0,
  })
  write('root.pem', pem(root))
  write('intermediate.pem', pem(intermediate))
  const leaves: [string, Parameters<typeof generateKeyPair>[0]][] = [
    ['rsa', rsa],
    ['p256', p256],
    ['ed25519', { type: 'ed25519' }],
  ]
  const made: Record<string, Made> = {}
  for (const [name, spec] of leaves) {
    const leaf = await make(`gateway-${name}`, spec, intermediate, {})
    made[name] = leaf
    write(`${name}.key.pem`, privateKeyPem(leaf.keys))
    write(`${name}.chain.pem`, pem(leaf, intermediate))
  }
  // Forgeries and misfits, each wrong in one way only.
  const selfSigned = await make('gateway-rsa', rsa, undefined, {})
  write('self-signed.key.pem', privateKeyPem(selfSigned.keys))
  write('self-signed.chain.pem', pem(selfSigned))
  // A gateway's leaf key used as a CA: the leaf is CA:FALSE.
  const underLeaf = await make('gateway-under-leaf', rsa, made.rsa!, {})
  write('non-ca-intermediate.key.pem', privateKeyPem(underLeaf.keys))
  write('non-ca-intermediate.chain.pem', pem(underLeaf, made.rsa!, intermediate))
  const oldIntermediate = await make('Conformance Test Expired Intermediate CA', p256, root, {
    ca: true,
    pathLength: 0,
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2021-01-01T00:00:00Z'),
  })
  const underOld = await make('gateway-expired-intermediate', rsa, oldIntermediate, {})
  write('expired-intermediate.key.pem', privateKeyPem(underOld.keys))
  write('expired-intermediate.chain.pem', pem(underOld, oldIntermediate))
  const noSign = await make('gateway-no-digital-signature', rsa, intermediate, {
    keyUsage: KeyUsage.keyEncipherment,
  })
  write('no-digital-signature.key.pem', privateKeyPem(noSign.keys))
  write('no-digital-signature.chain.pem', pem(noSign, intermediate))
  // A self-made CA with the real intermediate's name: only the signature tells them apart.
  const lookalike = await make('Conformance Test Intermediate CA', p256, undefined, {
    ca: true,
    pathLength: 0,
  })
  const underLookalike = await make('gateway-rsa', rsa, lookalike, {})
  write('lookalike-intermediate.key.pem', privateKeyPem(underLookalike.keys))
  write('lookalike-intermediate.chain.pem', pem(underLookalike, lookalike))
  write(
    'README.md',
    [
      '# Conformance test PKI',
      '',
      'Made by `npm run vectors -- --new-pki` for the conformance vectors only. The private keys',
      'here are public: never trust `root.pem` anywhere but in tests.',
      '',
      '- `root.pem`: the trust anchor every vector names in `policy.ca` (RSA-2048).',
      '- `intermediate.pem`: the intermediate CA (P-256, pathLen 0) that issues the leaves.',
      '- `rsa`, `p256`, `ed25519`: gateway leaves (`*.key.pem`, `*.chain.pem` = leaf + intermediate).',
      "- `self-signed`: a self-signed leaf with the RSA leaf's name.",
      '- `non-ca-intermediate`: a leaf issued by the RSA gateway leaf (CA:FALSE).',
      '- `expired-intermediate`: a leaf under an intermediate that expired in 2021.',
      '- `no-digital-signature`: a leaf whose keyUsage is keyEncipherment only.',
      "- `lookalike-intermediate`: a leaf under a self-made CA with the real intermediate's name.",
      '',
    ].join('\n'),
  )
}

// ---------------------------------------------------------------------------------------------
// Tokens

const ISSUER = 'kong-gateway'
const AUDIENCE = 'orders'
const BODY = Buffer.from('{"order":{"id":42,"items":["apple","pear"]}}')
const HOST = 'orders.internal:8080'
const PATH = '/orders/42'
const QUERY = 'expand=items&limit=10'
const URL = `http://${HOST}${PATH}?${QUERY}`

const policy = (over: Partial<Policy> = {}): Policy => ({
  ca: 'pki/root.pem',
  audience: AUDIENCE,
  issuer: ISSUER,
  clock_tolerance: 30,
  legacy_x5c: false,
  ...over,
})

/** A fixed, readable token id per case, so regenerating changes no claim. */
const jtiFor = (name: string) => {
  const h = createHash('sha256').update(name).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

const b64url = (value: Buffer | string) => Buffer.from(value).toString('base64url')

/** Signs with our signer's modules: options → header, facts → claims, compact JWS. */
async function signed(
  name: string,
  keyName: string,
  options: SignerOptions,
  facts: RequestFacts,
  at = NOW,
): Promise<string> {
  const resolved = resolveOptions({
    private_key_location: join(PKI, `${keyName}.key.pem`),
    public_key_location: join(PKI, `${keyName}.chain.pem`),
    issuer: ISSUER,
    x5c: 'chain',
    include_iat: true,
    ...options,
  })
  // Misfit certificates are loaded as the signer would refuse them; only the header needs them.
  const material = await loadKeyMaterial(
    { ...resolved, public_key_location: undefined, x5c: 'none' },
    new Date(at * 1000),
  )
  const certificates = readCerts(`${keyName}.chain.pem`)
  const header = buildHeader({ ...material, certificates }, resolved)
  const claims = buildClaims(facts, resolved, { now: at, jti: jtiFor(name) })
  const token = signCompactSync(
    encodeJson(header),
    encodeJson(claims),
    createSigningKey(material.privateKey, resolved.algorithm),
  )
  return resolved.include_credential_type ? `Bearer ${token}` : token
}

function readCerts(file: string): X509Certificate[] {
  const text = readFileSync(join(PKI, file), 'latin1')
  return (text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map(
    (p) => new X509Certificate(p),
  )
}

const privateKey = (name: string): KeyObject =>
  createPrivateKey(readFileSync(join(PKI, `${name}.key.pem`)))
const x5c = (name: string) => readCerts(`${name}.chain.pem`).map((c) => c.raw.toString('base64'))

/** Signs exact header and payload text (for members our signer would never write). */
function rawSigned(headerJson: string, payloadJson: string, key: KeyObject, alg: Algorithm) {
  const input = `${b64url(headerJson)}.${b64url(payloadJson)}`
  const digest = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
  const sig = sign(digest, Buffer.from(input), signKeyInput(key, alg))
  return `${input}.${b64url(sig)}`
}

/** The claims a well-formed token carries (as buildClaims writes them), as JSON members. */
function claimsJson(name: string, extra = ''): string {
  return `{"iss":"${ISSUER}","aud":"${AUDIENCE}","iat":${NOW},"exp":${NOW + 60},"jti":"${jtiFor(name)}",${extra}"payloadhash":"${digestBytes(BODY).sha256}"}`
}

const withBody: RequestFacts = {
  method: 'POST',
  host: HOST,
  path: PATH,
  query: QUERY,
  body: digestBytes(BODY),
  service: { name: AUDIENCE },
  consumer: { id: '8f6c2b54-7d1e-4c3a-9b0f-2a5e6d7c8b91', username: 'alice' },
}

interface Case {
  name: string
  description: string
  check: Check | null
  error: string | null
  token: () => Promise<string> | string
  body?: Buffer
  request?: { method: string; url: string } | null
  policy?: Partial<Policy>
  now?: number
}

const valid = (c: Omit<Case, 'check' | 'error'>): Case => ({ ...c, check: null, error: null })

const CASES: Case[] = [
  ...(
    [
      ['RS256', 'rsa'],
      ['RS384', 'rsa'],
      ['RS512', 'rsa'],
      ['PS256', 'rsa'],
      ['PS384', 'rsa'],
      ['PS512', 'rsa'],
      ['ES256', 'p256'],
      ['EdDSA', 'ed25519'],
    ] as const
  ).map(([alg, key]) =>
    valid({
      name: `valid-${alg.toLowerCase()}`,
      description: `${alg} with the ${key} leaf, x5c chain (leaf + intermediate) in standard base64, body hashed.`,
      token: () => signed(`valid-${alg.toLowerCase()}`, key, { algorithm: alg }, withBody),
    }),
  ),
  valid({
    name: 'valid-no-body',
    description:
      'No body: payloadhash is "" as the original plugin sends it, and the request has no body.',
    token: () => signed('valid-no-body', 'rsa', {}, { ...withBody, method: 'GET', body: null }),
    body: Buffer.alloc(0),
  }),
  valid({
    name: 'valid-bearer-prefix',
    description:
      'The header value starts with "Bearer " (include_credential_type); strip it first.',
    token: () =>
      signed(
        'valid-bearer-prefix',
        'p256',
        { algorithm: 'ES256', include_credential_type: true },
        withBody,
      ),
  }),
  valid({
    name: 'valid-request-binding',
    description:
      'Bound to the request: htm, htu (scheme, authority, path) and htq (hash of the raw query).',
    token: () => signed('valid-request-binding', 'rsa', { bind_request: true }, withBody),
    request: { method: 'POST', url: URL },
  }),
  valid({
    name: 'valid-request-binding-default-port',
    description:
      'htu drops a default port and lower-cases scheme and host (RFC 3986 §6.2.2–6.2.3): the request URL says HTTP://Orders.Internal:80.',
    token: () =>
      signed(
        'valid-request-binding-default-port',
        'rsa',
        { bind_request: true },
        { ...withBody, host: 'orders.internal' },
      ),
    request: { method: 'POST', url: `HTTP://Orders.Internal:80${PATH}?${QUERY}` },
  }),
  valid({
    name: 'valid-legacy-x5c',
    description:
      "x5c in the original plugin's base64url form, accepted because the policy allows legacy_x5c.",
    token: () => signed('valid-legacy-x5c', 'rsa', { x5c_encoding: 'base64url' }, withBody),
    policy: { legacy_x5c: true },
  }),
  valid({
    name: 'valid-audience-list',
    description: 'The policy accepts several audiences; the token names one of them.',
    token: () => signed('valid-audience-list', 'rsa', {}, withBody),
    policy: { audience: ['billing', AUDIENCE] },
  }),
  valid({
    name: 'valid-expired-within-tolerance',
    description: 'exp passed 10 s before now, inside the 30 s clock tolerance.',
    token: () => signed('valid-expired-within-tolerance', 'rsa', {}, withBody, NOW - 70),
  }),
  valid({
    name: 'valid-any-audience',
    description:
      'The policy checks no audience and no issuer (both null): aud "billing" and iss "other-gateway" pass.',
    token: () =>
      signed(
        'valid-any-audience',
        'rsa',
        { audience: 'billing', issuer: 'other-gateway' },
        withBody,
      ),
    policy: { audience: null, issuer: null },
  }),
  valid({
    name: 'valid-x5c-with-root',
    description:
      'x5c carries the whole chain, the root CA included: the path ends at the anchor that is in x5c too.',
    token: () =>
      rawSigned(
        JSON.stringify({
          typ: 'JWT',
          alg: 'RS256',
          x5c: [...x5c('rsa'), readCerts('root.pem')[0]!.raw.toString('base64')],
        }),
        claimsJson('valid-x5c-with-root'),
        privateKey('rsa'),
        'RS256',
      ),
  }),
  valid({
    name: 'valid-no-body-empty-sha256',
    description:
      'No body, and payloadhash is the SHA-256 of the empty input (as other signers write it) instead of "".',
    token: () =>
      rawSigned(
        JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: x5c('rsa') }),
        claimsJson('valid-no-body-empty-sha256').replace(
          /"payloadhash":"[0-9a-f]+"/,
          `"payloadhash":"${createHash('sha256').digest('hex')}"`,
        ),
        privateKey('rsa'),
        'RS256',
      ),
    body: Buffer.alloc(0),
  }),
  // --- invalid -------------------------------------------------------------------------------
  {
    name: 'missing-token',
    description: 'The token header is empty.',
    check: 'structure',
    error: 'ERR_TOKEN_MISSING',
    token: () => '',
  },
  {
    name: 'oversized-token',
    description: 'A correctly signed token longer than 64 KiB: refuse before parsing anything.',
    check: 'size',
    error: 'ERR_TOKEN_MALFORMED',
    token: () =>
      signed('oversized-token', 'rsa', { claims: { pad: 'x'.repeat(50_000) } }, withBody),
  },
  {
    name: 'two-parts',
    description: 'Header and payload only: a compact JWS has three parts.',
    check: 'structure',
    error: 'ERR_TOKEN_MALFORMED',
    token: async () =>
      (await signed('two-parts', 'rsa', {}, withBody)).split('.').slice(0, 2).join('.'),
  },
  {
    name: 'duplicate-claim',
    description:
      'The payload has "aud" twice ("billing", then "orders"); a last-wins parser sees the right audience. Refuse duplicate members (RFC 7515 §5.2, RFC 8725 §3.12).',
    check: 'structure',
    error: 'ERR_TOKEN_MALFORMED',
    token: () =>
      rawSigned(
        JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: x5c('rsa') }),
        claimsJson('duplicate-claim').replace('"aud":"orders"', '"aud":"billing","aud":"orders"'),
        privateKey('rsa'),
        'RS256',
      ),
  },
  {
    name: 'duplicate-header-alg',
    description:
      'The header has "alg" twice ("none", then "RS256") and a valid RS256 signature. Refuse duplicate members.',
    check: 'structure',
    error: 'ERR_TOKEN_MALFORMED',
    token: () =>
      rawSigned(
        `{"typ":"JWT","alg":"none","alg":"RS256","x5c":${JSON.stringify(x5c('rsa'))}}`,
        claimsJson('duplicate-header-alg'),
        privateKey('rsa'),
        'RS256',
      ),
  },
  {
    name: 'signature-non-canonical-base64url',
    description:
      'The RS256 signature with the unused low bits of its last base64url character set: lenient decoders give the same bytes. Refuse non-canonical base64url.',
    check: 'structure',
    error: 'ERR_TOKEN_MALFORMED',
    token: async () => {
      const token = await signed('signature-non-canonical-base64url', 'rsa', {}, withBody)
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      const last = alphabet.indexOf(token.at(-1)!)
      // 256 signature bytes leave 4 unused bits in the last character.
      if (last % 16 !== 0) throw new Error('expected 4 unused bits in the last character')
      return token.slice(0, -1) + alphabet[last + 1]
    },
  },
  {
    name: 'signature-padded',
    description: 'The signature with "=" padding: JWS base64url has none (RFC 7515 §2).',
    check: 'structure',
    error: 'ERR_TOKEN_MALFORMED',
    token: async () => `${await signed('signature-padded', 'rsa', {}, withBody)}==`,
  },
  {
    name: 'crit-header',
    description:
      'A "crit" header naming an extension: a verifier that does not understand it must refuse (RFC 7515 §4.1.11).',
    check: 'header',
    error: 'ERR_TOKEN_MALFORMED',
    token: () =>
      rawSigned(
        JSON.stringify({
          typ: 'JWT',
          alg: 'RS256',
          x5c: x5c('rsa'),
          crit: ['https://example.invalid/must-understand'],
          'https://example.invalid/must-understand': true,
        }),
        claimsJson('crit-header'),
        privateKey('rsa'),
        'RS256',
      ),
  },
  {
    name: 'legacy-x5c-not-allowed',
    description:
      'x5c in base64url while the policy does not allow legacy_x5c: RFC 7515 §4.1.6 says standard base64.',
    check: 'header',
    error: 'ERR_TOKEN_MALFORMED',
    token: () => signed('legacy-x5c-not-allowed', 'rsa', { x5c_encoding: 'base64url' }, withBody),
  },
  {
    name: 'alg-none',
    description: '"alg": "none" with an empty signature and a valid x5c chain.',
    check: 'algorithm',
    error: 'ERR_ALG_NOT_ALLOWED',
    token: () =>
      `${b64url(JSON.stringify({ typ: 'JWT', alg: 'none', x5c: x5c('rsa') }))}.${b64url(claimsJson('alg-none'))}.`,
  },
  {
    name: 'hs256-with-certificate-key',
    description:
      "HS256 whose HMAC key is the leaf certificate's public key in PEM: a verifier that lets the token choose the algorithm accepts it. Only asymmetric algorithms are allowed.",
    check: 'algorithm',
    error: 'ERR_ALG_NOT_ALLOWED',
    token: () => {
      const input = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256', x5c: x5c('rsa') }))}.${b64url(claimsJson('hs256-with-certificate-key'))}`
      const key = readCerts('rsa.chain.pem')[0]!.publicKey.export({ type: 'spki', format: 'pem' })
      return `${input}.${b64url(createHmac('sha256', key).update(input).digest())}`
    },
  },
  {
    name: 'alg-does-not-fit-key',
    description:
      '"alg": "ES256" with the RSA leaf in x5c (signed with some P-256 key): the algorithm must fit the certificate\'s key type.',
    check: 'algorithm',
    error: 'ERR_ALG_NOT_ALLOWED',
    token: () =>
      rawSigned(
        JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: x5c('rsa') }),
        claimsJson('alg-does-not-fit-key'),
        privateKey('p256'),
        'ES256',
      ),
  },
  {
    name: 'self-signed-leaf',
    description:
      'A self-signed certificate with the gateway leaf\'s name: "verify with the x5c key" alone accepts it.',
    check: 'chain',
    error: 'ERR_CERT_UNTRUSTED',
    token: () => signed('self-signed-leaf', 'self-signed', {}, withBody),
  },
  {
    name: 'lookalike-intermediate',
    description:
      'The chain goes through a self-made CA named like the real intermediate; only signatures tell them apart.',
    check: 'chain',
    error: 'ERR_CERT_UNTRUSTED',
    token: () => signed('lookalike-intermediate', 'lookalike-intermediate', {}, withBody),
  },
  {
    name: 'non-ca-intermediate',
    description:
      'The leaf was issued by the RSA gateway leaf, which is CA:FALSE (basicConstraints, RFC 5280 §4.2.1.9).',
    check: 'chain',
    error: 'ERR_CERT_UNTRUSTED',
    token: () => signed('non-ca-intermediate', 'non-ca-intermediate', {}, withBody),
  },
  {
    name: 'expired-intermediate',
    description:
      'The intermediate of the chain expired in 2021; the leaf itself is within its validity.',
    check: 'chain',
    error: 'ERR_CERT_EXPIRED',
    token: () => signed('expired-intermediate', 'expired-intermediate', {}, withBody),
  },
  {
    name: 'jku-header',
    description:
      'No x5c; a "jku" header points to a key set elsewhere and the token is signed with that key. Never fetch jku or x5u: there is no trusted key.',
    check: 'chain',
    error: 'ERR_CERT_UNTRUSTED',
    token: () =>
      rawSigned(
        JSON.stringify({
          typ: 'JWT',
          alg: 'RS256',
          kid: 'attacker',
          jku: 'https://attacker.example/.well-known/jwks.json',
        }),
        claimsJson('jku-header'),
        privateKey('self-signed'),
        'RS256',
      ),
  },
  {
    name: 'leaf-without-digital-signature',
    description:
      "The leaf's keyUsage is keyEncipherment only: it may not sign (RFC 5280 §4.2.1.3). Chain validators check issuers, not this.",
    check: 'key_usage',
    error: 'ERR_CERT_UNTRUSTED',
    token: () => signed('leaf-without-digital-signature', 'no-digital-signature', {}, withBody),
  },
  {
    name: 'signature-ecdsa-der',
    description:
      'ES256 signed correctly but the signature is DER-encoded; JWS wants r || s, 64 bytes (RFC 7518 §3.4).',
    check: 'signature',
    error: 'ERR_SIGNATURE_INVALID',
    token: () => {
      const input = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: x5c('p256') }))}.${b64url(claimsJson('signature-ecdsa-der'))}`
      const sig = sign('sha256', Buffer.from(input), {
        key: privateKey('p256'),
        dsaEncoding: 'der',
      })
      return `${input}.${b64url(sig)}`
    },
  },
  {
    name: 'payload-changed-after-signing',
    description:
      'The payload was changed after signing (aud rewritten); the signature no longer verifies.',
    check: 'signature',
    error: 'ERR_SIGNATURE_INVALID',
    token: async () => {
      const [h, , s] = (
        await signed('payload-changed-after-signing', 'rsa', { audience: 'billing' }, withBody)
      ).split('.')
      return `${h}.${b64url(claimsJson('payload-changed-after-signing'))}.${s}`
    },
  },
  {
    name: 'wrong-audience',
    description: 'aud is "billing"; the policy expects "orders".',
    check: 'claims',
    error: 'ERR_CLAIM_INVALID',
    token: () => signed('wrong-audience', 'rsa', { audience: 'billing' }, withBody),
  },
  {
    name: 'wrong-issuer',
    description: 'iss is "other-gateway"; the policy expects "kong-gateway".',
    check: 'claims',
    error: 'ERR_CLAIM_INVALID',
    token: () => signed('wrong-issuer', 'rsa', { issuer: 'other-gateway' }, withBody),
  },
  {
    name: 'expired',
    description: 'exp passed 60 s before now, beyond the 30 s tolerance.',
    check: 'claims',
    error: 'ERR_TOKEN_EXPIRED',
    token: () => signed('expired', 'rsa', {}, withBody, NOW - 120),
  },
  {
    name: 'iat-in-future',
    description:
      'iat is 300 s after now, beyond the 30 s tolerance (no nbf): a token from the future.',
    check: 'claims',
    error: 'ERR_CLAIM_INVALID',
    token: () => signed('iat-in-future', 'rsa', {}, withBody, NOW + 300),
  },
  {
    name: 'copied-certificate-other-key',
    description:
      "The gateway's real certificate chain in x5c, but the token is signed with another key: the chain is fine, the signature is not.",
    check: 'signature',
    error: 'ERR_SIGNATURE_INVALID',
    token: () =>
      rawSigned(
        JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: x5c('rsa') }),
        claimsJson('copied-certificate-other-key'),
        privateKey('self-signed'),
        'RS256',
      ),
  },
  {
    name: 'not-yet-valid',
    description: 'nbf is 300 s after now, beyond the 30 s tolerance (no iat).',
    check: 'claims',
    error: 'ERR_TOKEN_NOT_YET_VALID',
    token: () =>
      signed(
        'not-yet-valid',
        'rsa',
        { include_iat: false, include_nbf: true },
        withBody,
        NOW + 300,
      ),
  },
  {
    name: 'missing-jti',
    description:
      'No jti: without it a token cannot be refused as a replay. exp and jti are required.',
    check: 'claims',
    error: 'ERR_CLAIM_INVALID',
    token: () =>
      rawSigned(
        JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: x5c('rsa') }),
        claimsJson('missing-jti').replace(/"jti":"[^"]*",/, ''),
        privateKey('rsa'),
        'RS256',
      ),
  },
  {
    name: 'body-changed-one-byte',
    description: 'The last byte of the body was changed after signing.',
    check: 'body_hash',
    error: 'ERR_BODY_HASH_MISMATCH',
    token: () => signed('body-changed-one-byte', 'rsa', {}, withBody),
    body: Buffer.concat([BODY.subarray(0, -1), Buffer.from(']')]),
  },
  {
    name: 'empty-body-against-hash',
    description:
      'payloadhash is the hash of a body, but the request has none (the body was dropped).',
    check: 'body_hash',
    error: 'ERR_BODY_HASH_MISMATCH',
    token: () => signed('empty-body-against-hash', 'rsa', {}, withBody),
    body: Buffer.alloc(0),
  },
  {
    name: 'body-against-empty-hash',
    description: 'payloadhash is "" (no body), but the request has one (a body was added).',
    check: 'body_hash',
    error: 'ERR_BODY_HASH_MISMATCH',
    token: () => signed('body-against-empty-hash', 'rsa', {}, { ...withBody, body: null }),
  },
  {
    name: 'binding-method-mismatch',
    description: 'htm is POST; the request is a PUT.',
    check: 'binding',
    error: 'ERR_BINDING_MISMATCH',
    token: () => signed('binding-method-mismatch', 'rsa', { bind_request: true }, withBody),
    request: { method: 'PUT', url: URL },
  },
  {
    name: 'binding-path-mismatch',
    description: 'htu is for /orders/42; the request is for /orders/43.',
    check: 'binding',
    error: 'ERR_BINDING_MISMATCH',
    token: () => signed('binding-path-mismatch', 'rsa', { bind_request: true }, withBody),
    request: { method: 'POST', url: URL.replace('/orders/42', '/orders/43') },
  },
  {
    name: 'binding-query-mismatch',
    description:
      'htq is the hash of "expand=items&limit=10"; the request query is "expand=items&limit=1000".',
    check: 'binding',
    error: 'ERR_BINDING_MISMATCH',
    token: () => signed('binding-query-mismatch', 'rsa', { bind_request: true }, withBody),
    request: { method: 'POST', url: URL.replace('limit=10', 'limit=1000') },
  },
]

/** ECDSA and RSA-PSS signatures are randomised: a fresh token differs in its signature only. */
function sameVector(made: Vector, file: string): boolean {
  if (!existsSync(file)) return false
  const kept = JSON.parse(readFileSync(file, 'utf8')) as Vector
  const unsigned = (v: Vector) => ({ ...v, token: v.token.slice(0, v.token.lastIndexOf('.')) })
  const randomised = /"alg":"(ES|PS)\d+"/.test(
    Buffer.from(made.token.replace(/^Bearer /, '').split('.')[0]!, 'base64url').toString(),
  )
  return randomised
    ? JSON.stringify(unsigned(made)) === JSON.stringify(unsigned(kept))
    : JSON.stringify(made) === JSON.stringify(kept)
}

async function main() {
  const check = process.argv.includes('--check')
  if (!check && (process.argv.includes('--new-pki') || !existsSync(join(PKI, 'root.pem')))) {
    await makePki()
  }
  const names = new Set<string>()
  const stale: string[] = []
  let written = 0
  for (const c of CASES) {
    if (names.has(c.name)) throw new Error(`two cases named ${c.name}`)
    names.add(c.name)
    const vector: Vector = {
      name: c.name,
      description: c.description,
      token: await c.token(),
      body_base64: (c.body ?? BODY).toString('base64'),
      request: c.request ?? null,
      policy: policy(c.policy),
      now: c.now ?? NOW,
      expected: c.error === null ? 'valid' : 'invalid',
      error: c.error,
      check: c.check,
    }
    const file = join(OUT, `${c.name}.json`)
    if (check) {
      if (!sameVector(vector, file)) stale.push(c.name)
    } else if (!sameVector(vector, file)) {
      // An unchanged ES/PS case keeps its token: a regeneration rewrites only what changed.
      writeFileSync(file, `${JSON.stringify(vector, null, 2)}\n`)
      written++
    }
  }
  for (const file of readdirSync(OUT)) {
    if (file.endsWith('.json') && file !== 'schema.json' && !names.has(file.slice(0, -5))) {
      if (check) stale.push(file)
      else rmSync(join(OUT, file))
    }
  }
  if (check) {
    if (stale.length > 0) {
      console.error(
        `vectors differ from what npm run vectors makes: ${stale.join(', ')}. If the signer changed on purpose, run npm run vectors and commit the result.`,
      )
      process.exitCode = 1
    } else {
      console.log(`${names.size} vectors are what npm run vectors makes`)
    }
    return
  }
  console.log(`${names.size} vectors in vectors/, ${written} written`)
}

await main()
