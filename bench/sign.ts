/**
 * Signing throughput: our signer against raw node:crypto (the floor of what a signature costs),
 * jose and fast-jwt, for RS256, ES256 and EdDSA, sequential and concurrent; and the body
 * digest against raw `crypto.createHash`. Printed as ratios within one run.
 *
 *   npm run bench            (all)      BENCH_SECONDS=2 npm run bench   (longer rounds)
 */
import { createHash, sign as cryptoSign, randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createSigner as createFastJwtSigner } from 'fast-jwt'
import { importPKCS8, SignJWT } from 'jose'
import type { Algorithm } from '../src/core/algorithms.js'
import { BodyHasher, digestBytes } from '../src/core/body-digest.js'
import { createSigner } from '../src/signer/signer.js'
import { writeKeys } from '../testing/keys.js'
import { makeTempDir } from '../testing/tmp.js'
import { CONCURRENCY, compare, ROUNDS, SECONDS, table } from './harness.js'

async function signing(dir: string, alg: Algorithm) {
  const files = await writeKeys(dir, alg)
  const ours = await createSigner(
    {
      private_key_location: files.key,
      public_key_location: files.certDer,
      algorithm: alg,
      issuer: 'bench',
    },
    { env: {} },
  )
  const facts = {
    method: 'POST',
    body: digestBytes('{"hello":"world"}'),
    service: { name: 'orders' },
    consumer: { id: randomUUID(), username: 'alice' },
  }
  // The same header and a claims set of the same shape for every contender.
  const token = await ours.sign(facts)
  const [h, p] = token.split('.') as [string, string]
  const header = JSON.parse(Buffer.from(h, 'base64url').toString())
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
  const digest = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
  const keyInput = alg.startsWith('ES')
    ? { key: files.keys.privateKey, dsaEncoding: 'ieee-p1363' as const }
    : files.keys.privateKey
  const input = Buffer.from(`${h}.${p}`)
  const raw = () =>
    new Promise<Buffer>((resolve, reject) =>
      cryptoSign(digest, input, keyInput, (e, s) => (e ? reject(e) : resolve(s))),
    )
  const joseKey = await importPKCS8(
    files.keys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    alg,
  )
  const jose = () =>
    new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader(header).sign(joseKey)
  const fastJwt = createFastJwtSigner({
    key: files.keys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    algorithm: alg,
    header,
    noTimestamp: true,
  })
  const fast = () => fastJwt({ ...claims, jti: randomUUID() })
  const ops = {
    'node:crypto raw': raw,
    'kong-upstream-jwt': () => ours.sign(facts),
    jose,
    'fast-jwt (sync)': fast,
  }
  for (const [mode, concurrency] of [
    ['sequential', 1],
    ['concurrent', CONCURRENCY],
  ] as const) {
    const title = `${alg} ${mode}${mode === 'concurrent' ? ` (${concurrency} in flight)` : ''}`
    table(title, 'tokens/s', await compare(ops, concurrency), 'kong-upstream-jwt')
  }
  ours.close()
}

async function hashing() {
  const chunk = Buffer.alloc(64 * 1024, 7)
  const total = 256
  const ops = {
    'crypto.createHash': () => {
      const h = createHash('sha256')
      for (let i = 0; i < total; i++) h.update(chunk)
      return h.digest('hex')
    },
    BodyHasher: () => {
      const h = new BodyHasher({ limit: 1 << 30 })
      for (let i = 0; i < total; i++) h.update(chunk)
      return h.digest()
    },
  }
  const mb = (total * chunk.length) / 2 ** 20
  table(
    'SHA-256 body digest (16 MiB in 64 KiB chunks)',
    'MiB/s',
    await compare(ops, 1),
    'BodyHasher',
    mb,
  )
}

const dir = await makeTempDir()
try {
  console.log(
    `kong-upstream-jwt signing benchmark: ${SECONDS}s x ${ROUNDS} rounds (median), Node ${process.version}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}`,
  )
  const only = process.argv.slice(2) as Algorithm[]
  for (const alg of only.length ? only : (['RS256', 'ES256', 'EdDSA'] as const))
    await signing(dir, alg)
  await hashing()
} finally {
  await rm(join(dir), { recursive: true, force: true })
}
