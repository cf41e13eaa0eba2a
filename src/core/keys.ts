/**
 * Parsing of keys and certificates both sides need, from bytes already read: PEM or DER
 * private keys, certificate chains, and RFC 7638 thumbprints. No file access, no options.
 * @module
 */
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { KeyError } from './errors.js'

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g

function pemBlocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1] ?? '', pem: m[0] }))
}

/**
 * Parses a private key from PEM (PKCS#1, PKCS#8, SEC1, encrypted PKCS#8) or DER bytes.
 *
 * @example
 * ```ts
 * const key = parsePrivateKey(readFileSync('key.pem'), 'key.pem')
 * ```
 * @throws {KeyError} `ERR_KEY_INVALID` or `ERR_KEY_PASSPHRASE`; the message never holds key bytes
 */
export function parsePrivateKey(data: Buffer, file: string, passphrase?: string): KeyObject {
  const text = data.toString('latin1')
  if (text.includes('-----BEGIN')) {
    const blocks = pemBlocks(text)
    const block = blocks.find((b) => b.label.includes('PRIVATE KEY'))
    if (!block) {
      const found = blocks.map((b) => b.label).join(', ') || 'no complete PEM block'
      throw new KeyError('ERR_KEY_INVALID', `${file} holds no private key (found: ${found})`, file)
    }
    const encrypted =
      block.label === 'ENCRYPTED PRIVATE KEY' || block.pem.includes('Proc-Type: 4,ENCRYPTED')
    if (encrypted && !passphrase) {
      throw new KeyError(
        'ERR_KEY_PASSPHRASE',
        `private key in ${file} is encrypted and no passphrase is configured (private_key_passphrase)`,
        file,
      )
    }
    try {
      return createPrivateKey({ key: block.pem, format: 'pem', passphrase: passphrase ?? '' })
    } catch (err) {
      if (encrypted) {
        throw new KeyError(
          'ERR_KEY_PASSPHRASE',
          `private key in ${file} could not be decrypted: wrong passphrase or unsupported cipher`,
          file,
          { cause: err },
        )
      }
      throw new KeyError('ERR_KEY_INVALID', `private key in ${file} cannot be parsed`, file, {
        cause: err,
      })
    }
  }
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: data, format: 'der', type, passphrase: passphrase ?? '' })
    } catch {
      // try the next DER structure
    }
  }
  throw new KeyError(
    'ERR_KEY_INVALID',
    `${file} is neither a PEM private key nor a DER one (PKCS#8, PKCS#1 or SEC1)`,
    file,
  )
}

/**
 * Parses a certificate chain: one DER certificate, or every `CERTIFICATE` block of a PEM file.
 *
 * @example
 * ```ts
 * const [leaf, ...issuers] = parseCertificates(readFileSync('chain.pem'), 'chain.pem')
 * ```
 * @throws {KeyError} `ERR_CERT_INVALID`
 */
export function parseCertificates(data: Buffer, file: string): X509Certificate[] {
  const text = data.toString('latin1')
  try {
    if (!text.includes('-----BEGIN')) return [new X509Certificate(data)]
    const certs = pemBlocks(text)
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => new X509Certificate(b.pem))
    if (certs.length > 0) return certs
  } catch (err) {
    throw new KeyError('ERR_CERT_INVALID', `certificate in ${file} cannot be parsed`, file, {
      cause: err,
    })
  }
  throw new KeyError('ERR_CERT_INVALID', `${file} holds no CERTIFICATE block`, file)
}

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key.
 *
 * @example
 * ```ts
 * jwkThumbprint(createPublicKey(pem)) // 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
 * ```
 */
export function jwkThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>
  // §3.2: only the required members, in lexicographic order, no whitespace.
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : jwk.kty === 'EC'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}
