/**
 * The cost of HTTP Message Signatures (RFC 9421): our signer in each `signature_mode`, and
 * npm http-message-signatures signing the same components as a named peer; then our verifier
 * against theirs. Printed as ratios within one run.
 *
 *   npm run bench:httpsig      BENCH_SECONDS=2 npm run bench:httpsig   (longer rounds)
 */
import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import {
  httpbis,
  createSigner as theirSigner,
  createVerifier as theirVerifier,
} from 'http-message-signatures'
import type { Algorithm } from '../src/core/algorithms.js'
import { digestBytes } from '../src/core/body-digest.js'
import { jwkThumbprint } from '../src/core/keys.js'
import { createSigner } from '../src/signer/signer.js'
import { createVerifier } from '../src/verify/verifier.js'
import { writeKeys } from '../testing/keys.js'
import { makeTempDir } from '../testing/tmp.js'
import { CONCURRENCY, compare, table } from './harness.js'

const NAMES: Partial<Record<Algorithm, string>> = { ES256: 'ecdsa-p256-sha256', EdDSA: 'ed25519' }
const BODY = '{"hello":"world"}'
const URL_ = 'http://orders.internal:8080/orders?a=1'

async function run(dir: string, alg: Algorithm) {
  const files = await writeKeys(dir, alg)
  const name = NAMES[alg]!
  const make = (mode: 'jwt' | 'http-signature' | 'both') =>
    createSigner(
      {
        private_key_location: files.key,
        public_key_location: files.certPem,
        algorithm: alg,
        signature_mode: mode,
        key_reload_interval: 0,
      },
      { env: {} },
    )
  const [jwt, sig, both] = await Promise.all([make('jwt'), make('http-signature'), make('both')])
  const facts = {
    method: 'POST',
    scheme: 'http',
    host: 'orders.internal:8080',
    path: '/orders',
    query: 'a=1',
    body: digestBytes(BODY),
    service: { name: 'orders' },
    headers: { 'content-type': 'application/json' },
  }
  const kid = jwkThumbprint(files.cert.publicKey)
  const key = theirSigner(files.keys.privateKey, name, kid)
  const digest = `sha-256=:${createHash('sha256').update(BODY).digest('base64')}:`
  const theirs = () =>
    httpbis.signMessage(
      {
        key,
        name: 'sig1',
        fields: ['@method', '@target-uri', 'content-digest', 'content-type'],
        params: ['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'],
        paramValues: { nonce: 'n', tag: 'kong-upstream-jwt' },
      },
      {
        method: 'POST',
        url: URL_,
        headers: { 'content-type': 'application/json', 'content-digest': digest },
      },
    )
  const signing = await compare(
    {
      'ours signRequest, http-signature': () => sig.signRequest(facts),
      'ours signRequest, jwt': () => jwt.signRequest(facts),
      'ours signRequest, both': () => both.signRequest(facts),
      'http-message-signatures signMessage': theirs,
    },
    CONCURRENCY,
  )
  table(`${alg} / ${name}: signing`, 'ops/s', signing, 'ours signRequest, http-signature')

  const headers = {
    ...Object.fromEntries(
      Object.entries((await sig.signRequest(facts)).headers).map(([k, v]) => [k.toLowerCase(), v]),
    ),
    'content-type': 'application/json',
  }
  const ours = createVerifier({
    pinned: [files.certPem],
    signatureMode: 'http-signature',
    replay: false,
  })
  const lookup = {
    keyLookup: async () => ({
      id: kid,
      algs: [name],
      verify: theirVerifier(files.cert.publicKey, name),
    }),
  }
  const verifying = await compare(
    {
      'ours verify (http-signature)': () =>
        ours.verify({ headers, method: 'POST', url: URL_, body: BODY }),
      'http-message-signatures verifyMessage': () =>
        httpbis.verifyMessage(lookup, { method: 'POST', url: URL_, headers }),
    },
    CONCURRENCY,
  )
  table(`${alg} / ${name}: verifying`, 'ops/s', verifying, 'ours verify (http-signature)')
  for (const s of [jwt, sig, both]) s.close()
}

const dir = await makeTempDir()
try {
  for (const alg of ['ES256', 'EdDSA'] as const) await run(dir, alg)
} finally {
  await rm(dir, { recursive: true, force: true })
}
