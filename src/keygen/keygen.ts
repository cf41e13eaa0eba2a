import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { UpstreamJwtError } from '../core/errors.js'
import { fileExists } from '../core/file-exists.js'
import {
  type Curve,
  generateKeyPair,
  issueCertificate,
  type KeyType,
  privateKeyPem,
} from './certificates.js'

/** Options of `keygen`, as the CLI command takes them. */
export interface KeygenOptions {
  /** Folder to write into; created when missing. */
  readonly out: string
  readonly type?: KeyType
  readonly bits?: number
  readonly curve?: Curve
  /** Also make a CA and sign the leaf with it (for truststore tests). */
  readonly ca?: boolean
  /** Common name of the leaf; default `kong-upstream-jwt`. */
  readonly subject?: string
  /** Validity in days; default 365. */
  readonly days?: number
  /** Overwrite existing files. */
  readonly force?: boolean
}

/** The files `keygen` wrote, by role. */
export interface KeygenResult {
  readonly key: string
  readonly certDer: string
  readonly certPem: string
  readonly chain: string
  readonly caCert?: string
  readonly caKey?: string
  /** The JWS algorithm that fits the key made. */
  readonly algorithm: string
}

const ALGORITHM_FOR: Record<Curve, string> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
}

/**
 * Makes a private key and a certificate (self-signed, or with `ca` issued by a new CA) and
 * writes `key.pem` (mode 0600), `cert.cer` (DER, as the original plugin reads),
 * `cert.pem`, `chain.pem` (leaf first) and with `ca` also `ca.pem` and `ca.key`.
 *
 * @example
 * ```ts
 * const files = await keygen({ out: './keys', type: 'ec', curve: 'P-256' })
 * // files.key === 'keys/key.pem', files.algorithm === 'ES256'
 * ```
 * @throws {UpstreamJwtError} `ERR_FILE_EXISTS` when a file is there and `force` is off
 */
export async function keygen(options: KeygenOptions): Promise<KeygenResult> {
  const dir = options.out
  const files = {
    key: join(dir, 'key.pem'),
    certDer: join(dir, 'cert.cer'),
    certPem: join(dir, 'cert.pem'),
    chain: join(dir, 'chain.pem'),
    ...(options.ca ? { caCert: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key') } : {}),
  }
  if (!options.force) {
    for (const file of Object.values(files)) {
      if (await fileExists(file)) {
        throw new UpstreamJwtError(
          'ERR_FILE_EXISTS',
          `${file} already exists; use --force to overwrite`,
        )
      }
    }
  }
  const spec = { type: options.type ?? 'rsa', bits: options.bits, curve: options.curve } as const
  const days = options.days ?? 365
  const notBefore = new Date(Date.now() - 5 * 60_000)
  const notAfter = new Date(notBefore.getTime() + days * 24 * 3600_000)
  const keys = await generateKeyPair(spec)
  const subject = options.subject ?? 'kong-upstream-jwt'
  let caPair: Awaited<ReturnType<typeof generateKeyPair>> | undefined
  let ca: Awaited<ReturnType<typeof issueCertificate>> | undefined
  if (options.ca) {
    caPair = await generateKeyPair(spec)
    ca = await issueCertificate({
      subject: `${subject} CA`,
      keys: caPair,
      ca: true,
      notBefore,
      notAfter: new Date(notAfter.getTime() + 24 * 3600_000),
    })
  }
  const cert = await issueCertificate({
    subject,
    keys,
    notBefore,
    notAfter,
    ...(ca && caPair ? { issuer: { certificate: ca, keys: caPair } } : {}),
  })
  await mkdir(dir, { recursive: true })
  const flag = options.force ? 'w' : 'wx'
  await writeFile(files.key, privateKeyPem(keys), { mode: 0o600, flag })
  await chmod(files.key, 0o600) // an overwritten file keeps its old mode otherwise
  await writeFile(files.certDer, cert.raw, { flag })
  await writeFile(files.certPem, cert.toString(), { flag })
  await writeFile(files.chain, cert.toString() + (ca ? ca.toString() : ''), { flag })
  if (ca && caPair && files.caCert && files.caKey) {
    await writeFile(files.caCert, ca.toString(), { flag })
    await writeFile(files.caKey, privateKeyPem(caPair), { mode: 0o600, flag })
    await chmod(files.caKey, 0o600)
  }
  const algorithm =
    spec.type === 'rsa'
      ? 'RS256'
      : spec.type === 'ec'
        ? ALGORITHM_FOR[spec.curve ?? 'P-256']
        : 'EdDSA'
  return { ...files, algorithm }
}
