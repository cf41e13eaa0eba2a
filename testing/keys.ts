import type { X509Certificate } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Algorithm } from '../src/core/algorithms.js'
import {
  type Curve,
  type GeneratedKeyPair,
  generateKeyPair,
  issueCertificate,
  type KeySpec,
  privateKeyPem,
} from '../src/keygen/certificates.js'

const CURVES: Partial<Record<Algorithm, Curve>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }

/** The key spec that fits a JWS algorithm. */
export function specFor(alg: Algorithm): KeySpec {
  if (alg === 'EdDSA') return { type: 'ed25519' }
  const curve = CURVES[alg]
  return curve ? { type: 'ec', curve } : { type: 'rsa', bits: 2048 }
}

/** Files of a key and its certificate written by `writeKeys`. */
export interface KeyFiles {
  readonly dir: string
  readonly key: string
  readonly certPem: string
  readonly certDer: string
  readonly keys: GeneratedKeyPair
  readonly cert: X509Certificate
}

/**
 * Makes a fresh key for `alg` and a self-signed certificate (or one issued by `issuer`), and
 * writes key.pem, cert.pem and cert.cer into `dir` under `name`.
 */
export async function writeKeys(
  dir: string,
  alg: Algorithm,
  options: {
    name?: string
    issuer?: { certificate: X509Certificate; keys: GeneratedKeyPair }
    notBefore?: Date
    notAfter?: Date
  } = {},
): Promise<KeyFiles> {
  const name = options.name ?? alg.toLowerCase()
  const keys = await generateKeyPair(specFor(alg))
  const cert = await issueCertificate({
    subject: `test ${name}`,
    keys,
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.notBefore ? { notBefore: options.notBefore } : {}),
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
  })
  const files = {
    dir,
    key: join(dir, `${name}.key.pem`),
    certPem: join(dir, `${name}.cert.pem`),
    certDer: join(dir, `${name}.cert.cer`),
  }
  await writeFile(files.key, privateKeyPem(keys), { mode: 0o600 })
  await writeFile(files.certPem, cert.toString())
  await writeFile(files.certDer, cert.raw)
  return { ...files, keys, cert }
}
