/**
 * Verification throughput: our verifier (x5c chain to a CA, claims, body hash, replay store —
 * everything on) against jose's jwtVerify plus a hand-written body-hash check on the same
 * tokens, sequential and concurrent; and chain validation with and without the cache.
 *
 *   npm run bench:verify
 */
import { createHash } from 'node:crypto'
import { importX509, jwtVerify } from 'jose'
import type { Algorithm } from '../src/core/algorithms.js'
import { digestBytes } from '../src/core/body-digest.js'
import { createSigner } from '../src/signer/signer.js'
import { TrustStore } from '../src/verify/trust.js'
import { createVerifier } from '../src/verify/verifier.js'
import { makePki } from '../testing/pki.js'
import { makeTempDir, removeDir } from '../testing/tmp.js'
import { CONCURRENCY, compare, ROUNDS, SECONDS, table } from './harness.js'

const BODY = Buffer.from(
  JSON.stringify({
    order: 42,
    items: Array.from({ length: 20 }, (_, i) => ({ sku: `sku-${i}`, qty: i })),
  }),
)
const TOKENS = Number(process.env.BENCH_TOKENS ?? 60_000)

async function verification(dir: string, alg: Algorithm) {
  const pki = await makePki(dir, alg)
  const signer = await createSigner(
    {
      private_key_location: pki.files.key,
      public_key_location: pki.files.chain,
      algorithm: alg,
      issuer: 'gw',
      token_ttl: 3600,
    },
    { env: {} },
  )
  // Distinct tokens: the replay store refuses a jti twice, as it should.
  const tokens: string[] = []
  const digest = digestBytes(BODY)
  for (let i = 0; i < TOKENS; i++)
    tokens.push(signer.signSync({ body: digest, service: { name: 'orders' } }))
  let next = 0
  const token = () => tokens[next++ % tokens.length] as string
  let mine = 0

  let ours = createVerifier({
    ca: pki.files.rootPem,
    issuer: 'gw',
    audience: 'orders',
    algorithms: [alg],
  })
  const oursOp = async () => {
    if (mine === tokens.length) {
      // A fresh verifier (and replay store) for the next pass over the tokens.
      ours = createVerifier({
        ca: pki.files.rootPem,
        issuer: 'gw',
        audience: 'orders',
        algorithms: [alg],
      })
      mine = 0
    }
    return ours.verify({ headers: { jwt: tokens[mine++] as string }, method: 'POST', body: BODY })
  }
  const leafKey = await importX509(pki.leaf.cert.toString(), alg)
  const joseOp = async () => {
    const { payload } = await jwtVerify(token(), leafKey, {
      algorithms: [alg],
      issuer: 'gw',
      audience: 'orders',
    })
    if (payload.payloadhash !== createHash('sha256').update(BODY).digest('hex'))
      throw new Error('body')
    return payload
  }
  const ops = {
    'kong-upstream-jwt (chain+replay)': oursOp,
    'jose jwtVerify + body hash': joseOp,
  }
  for (const [mode, concurrency] of [
    ['sequential', 1],
    ['concurrent', CONCURRENCY],
  ] as const) {
    const title = `${alg} ${mode}${mode === 'concurrent' ? ` (${concurrency} in flight)` : ''}`
    table(
      title,
      'verifications/s',
      await compare(ops, concurrency),
      'kong-upstream-jwt (chain+replay)',
    )
  }

  const header = {
    alg,
    x5c: [pki.leaf.cert.raw.toString('base64'), pki.intermediate.cert.raw.toString('base64')],
  }
  const cached = new TrustStore({ ca: pki.files.rootPem })
  const uncached = new TrustStore({ ca: pki.files.rootPem, cacheSize: 0 })
  const chains = await compare(
    {
      'chain validation, cached': () => cached.resolve(header, Date.now(), 30_000),
      'chain validation, no cache': () => uncached.resolve(header, Date.now(), 30_000),
    },
    1,
  )
  table(
    `${alg} leaf, ES256 intermediate, RS256 root`,
    'chains/s',
    chains,
    'chain validation, cached',
  )
}

const dir = await makeTempDir()
try {
  console.log(
    `kong-upstream-jwt verification benchmark: ${SECONDS}s x ${ROUNDS} rounds (median), Node ${process.version}`,
  )
  const only = process.argv.slice(2) as Algorithm[]
  for (const alg of only.length ? only : (['ES256', 'RS256'] as const)) await verification(dir, alg)
} finally {
  await removeDir(dir)
}
