import { createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { type Algorithm, assertKeyFitsAlgorithm } from '../core/algorithms.js'
import { ConfigError, KeyError } from '../core/errors.js'
import { jwkThumbprint, parseCertificates, parsePrivateKey } from '../core/keys.js'
import { certificateConstraints, KEY_USAGE } from '../core/x509-extensions.js'
import type { ResolvedOptions } from '../options/table.js'

/** A private key with its certificate chain, checked against each other and the algorithm. */
export interface KeyMaterial {
  readonly algorithm: Algorithm
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  /** The certificate chain, leaf first; empty when no certificate was configured. */
  readonly certificates: readonly X509Certificate[]
  /** RFC 7638 JWK SHA-256 thumbprint of the public key (base64url). */
  readonly thumbprint: string
  /** The files the material came from, for messages and reload checks. */
  readonly files: { readonly key: string; readonly cert: string | undefined }
  /** Conditions worth a log line that do not stop signing (a certificate about to expire). */
  readonly warnings: readonly string[]
}

/** Certificates expiring sooner than this produce a warning when loaded. */
export const EXPIRY_WARNING_MS = 30 * 24 * 3600 * 1000

async function readKeyFile(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new KeyError('ERR_KEY_NOT_FOUND', `${what} file not found: ${file}`, file, {
        cause: err,
      })
    }
    throw new KeyError(
      'ERR_KEY_UNREADABLE',
      `${what} file cannot be read: ${file} (${code ?? 'error'})`,
      file,
      { cause: err },
    )
  }
}

function checkChain(
  certs: readonly X509Certificate[],
  file: string,
  now: Date,
  warnings: string[],
) {
  for (const [i, cert] of certs.entries()) {
    const name =
      i === 0
        ? 'certificate'
        : `chain certificate ${i + 1} (${cert.subject.replaceAll('\n', ', ')})`
    if (new Date(cert.validTo).getTime() < now.getTime()) {
      throw new KeyError(
        'ERR_SIGNING_CERT_EXPIRED',
        `${name} in ${file} expired on ${cert.validTo}`,
        file,
      )
    }
    if (new Date(cert.validFrom).getTime() > now.getTime()) {
      throw new KeyError(
        'ERR_SIGNING_CERT_NOT_YET_VALID',
        `${name} in ${file} is not valid before ${cert.validFrom}`,
        file,
      )
    }
    if (new Date(cert.validTo).getTime() - now.getTime() < EXPIRY_WARNING_MS) {
      warnings.push(`${name} in ${file} expires on ${cert.validTo}`)
    }
    const issuer = certs[i + 1]
    if (issuer && !cert.checkIssued(issuer)) {
      throw new KeyError(
        'ERR_CERT_INVALID',
        `certificates in ${file} are not a chain in order (leaf first): certificate ${i + 2} did not issue certificate ${i + 1}`,
        file,
      )
    }
  }
}

/**
 * Reads and checks the signing key and certificate named by the options (environment
 * variables already applied): the files exist and parse, the key matches the certificate,
 * the algorithm fits the key, and no certificate of the chain is expired.
 *
 * @example
 * ```ts
 * const material = await loadKeyMaterial(resolveOptions({ private_key_location: 'key.pem', public_key_location: 'cert.cer' }))
 * ```
 * @throws {KeyError | ConfigError}
 */
export async function loadKeyMaterial(
  options: ResolvedOptions,
  now: Date = new Date(),
): Promise<KeyMaterial> {
  const keyFile = options.private_key_location
  if (!keyFile) {
    throw new ConfigError(
      'ERR_OPTION_INVALID',
      'private_key_location',
      'option "private_key_location" is required (or set KONG_SSL_CERT_KEY)',
    )
  }
  const certFile = options.public_key_location
  if (!certFile && (options.x5c !== 'none' || options.include_x5t_s256)) {
    throw new ConfigError(
      'ERR_OPTION_INVALID',
      'public_key_location',
      `option "public_key_location" is required (or set KONG_SSL_CERT_DER) when x5c is "${options.x5c}"${options.include_x5t_s256 ? ' or include_x5t_s256 is on' : ''}; set x5c to "none" to sign without a certificate`,
    )
  }
  const [keyData, certData] = await Promise.all([
    readKeyFile(keyFile, 'private key'),
    certFile ? readKeyFile(certFile, 'certificate') : undefined,
  ])
  const privateKey = parsePrivateKey(keyData, keyFile, options.private_key_passphrase)
  assertKeyFitsAlgorithm(privateKey, options.algorithm, keyFile)
  const publicKey = createPublicKey(privateKey)
  const warnings: string[] = []
  let certificates: X509Certificate[] = []
  if (certFile && certData) {
    certificates = parseCertificates(certData, certFile)
    const leaf = certificates[0]!
    if (!leaf.checkPrivateKey(privateKey)) {
      throw new KeyError(
        'ERR_KEY_MISMATCH',
        `the private key in ${keyFile} does not belong to the certificate in ${certFile}`,
        certFile,
      )
    }
    const usage = certificateConstraints(leaf).keyUsage
    if (usage !== undefined && (usage & KEY_USAGE.digitalSignature) === 0) {
      // Verifiers refuse such a leaf (RFC 5280 §4.2.1.3): better to fail here than on every request.
      throw new KeyError(
        'ERR_CERT_INVALID',
        `certificate in ${certFile} may not be used for signatures (its keyUsage lacks digitalSignature)`,
        certFile,
      )
    }
    checkChain(certificates, certFile, now, warnings)
  }
  return Object.freeze({
    algorithm: options.algorithm,
    privateKey,
    publicKey,
    certificates: Object.freeze(certificates),
    thumbprint: jwkThumbprint(publicKey),
    files: Object.freeze({ key: keyFile, cert: certFile }),
    warnings: Object.freeze(warnings),
  })
}
