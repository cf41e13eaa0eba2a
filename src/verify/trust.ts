import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ConfigError, KeyError } from '../core/errors.js'
import { jwkThumbprint, parseCertificates } from '../core/keys.js'
import { validateChain } from './chain.js'
import { decodeX5c } from './decode.js'
import { CertificateError } from './errors.js'
import { type JwksOptions, JwksSource } from './jwks.js'

/** Where trust comes from. At least one of `ca`, `pinned` or `jwks` must be given. */
export interface TrustOptions {
  /**
   * CA bundle: PEM text, or a path to a PEM file, or several. Every certificate in it is a trust
   * anchor; tokens must carry an `x5c` chain that leads to one.
   */
  readonly ca?: string | Buffer | readonly (string | Buffer)[]
  /**
   * Pinned certificates or public keys (PEM text or paths, or KeyObjects). A token is trusted
   * when its `x5c` leaf has a pinned key, or, without `x5c`, when its `kid` is a pinned key's
   * RFC 7638 thumbprint (or the only pinned key fits).
   */
  readonly pinned?: readonly (string | Buffer | KeyObject)[]
  /** A JWK Set (file, URL or object) to find keys by `kid`. */
  readonly jwks?: JwksOptions['source'] | JwksOptions
  /** Accept the original plugin's base64url `x5c` besides standard base64. */
  readonly legacyX5c?: boolean
  /** Most validated chains kept (LRU); default 1000. */
  readonly cacheSize?: number
}

/** The key that will check a signature, and the chain that made it trusted. */
export interface TrustedKey {
  readonly key: KeyObject
  readonly certificates: readonly X509Certificate[]
  /** How the key was found. */
  readonly source: 'ca' | 'pinned' | 'jwks'
  /** The algorithm a JWK declares for itself (`alg`), when it does. */
  readonly alg?: string | undefined
}

function asPem(input: string | Buffer): Buffer {
  if (Buffer.isBuffer(input)) return input
  if (input.includes('-----BEGIN')) return Buffer.from(input)
  try {
    return readFileSync(input)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new KeyError(
      code === 'ENOENT' ? 'ERR_KEY_NOT_FOUND' : 'ERR_KEY_UNREADABLE',
      `trust file cannot be read: ${input} (${code ?? 'error'})`,
      input,
      { cause: err },
    )
  }
}

function loadAnchors(ca: TrustOptions['ca']): X509Certificate[] {
  if (ca === undefined) return []
  const list = Array.isArray(ca) ? ca : [ca as string | Buffer]
  return list.flatMap((entry, i) =>
    parseCertificates(
      asPem(entry),
      typeof entry === 'string' && !entry.includes('-----BEGIN') ? entry : `ca[${i}]`,
    ),
  )
}

function loadPinned(pinned: TrustOptions['pinned']): KeyObject[] {
  return (pinned ?? []).map((entry) => {
    if (typeof entry === 'object' && !Buffer.isBuffer(entry)) return entry
    const pem = asPem(entry)
    const text = pem.toString('latin1')
    return text.includes('CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem)
  })
}

const spki = (key: KeyObject) => key.export({ format: 'der', type: 'spki' }).toString('base64')

/**
 * Finds the trusted key for a token header. Nothing in the token is believed unless it leads to
 * configured trust: `x5c` only through an anchor or a pin, `kid` only as a lookup key. `jku` and
 * `x5u` are never fetched. Validated chains are cached (bounded LRU) until their earliest
 * certificate expiry, so a steady stream from one gateway costs one signature check each.
 */
export class TrustStore {
  #anchors: X509Certificate[]
  #pinned: Map<string, KeyObject>
  #pinnedByThumbprint: Map<string, KeyObject>
  #jwks: JwksSource | undefined
  #legacy: boolean
  #cache = new Map<string, TrustedKey & { notAfter: number }>()
  #cacheSize: number

  constructor(options: TrustOptions, clock: () => number = Date.now) {
    this.#anchors = loadAnchors(options.ca)
    const pinned = loadPinned(options.pinned)
    this.#pinned = new Map(pinned.map((k) => [spki(k), k]))
    this.#pinnedByThumbprint = new Map(pinned.map((k) => [jwkThumbprint(k), k]))
    if (options.jwks !== undefined) {
      const jwks =
        typeof options.jwks === 'object' && 'source' in options.jwks
          ? options.jwks
          : { source: options.jwks }
      this.#jwks = new JwksSource({ clock, ...(jwks as JwksOptions) })
    }
    this.#legacy = options.legacyX5c === true
    this.#cacheSize = options.cacheSize ?? 1000
    if (this.#anchors.length === 0 && this.#pinned.size === 0 && !this.#jwks) {
      throw new ConfigError(
        'ERR_OPTION_INVALID',
        'ca',
        'createVerifier: give at least one of ca, pinned or jwks',
      )
    }
  }

  /** Chains validated and cached right now (for tests and metrics). */
  get cachedChains(): number {
    return this.#cache.size
  }

  #fromChain(x5c: unknown, now: number, toleranceMs: number): TrustedKey | undefined {
    const id = createHash('sha256').update(JSON.stringify(x5c)).digest('base64url')
    const hit = this.#cache.get(id)
    if (hit && hit.notAfter + toleranceMs >= now) {
      this.#cache.delete(id)
      this.#cache.set(id, hit) // most recently used last
      return hit
    }
    const certs = decodeX5c(x5c, { legacy: this.#legacy })
    const leaf = certs[0]!
    let entry: TrustedKey & { notAfter: number }
    if (this.#pinned.has(spki(leaf.publicKey))) {
      // A pinned key is trusted as it is; its certificate must still be in its validity period.
      validateChain([leaf], [leaf], now, toleranceMs)
      entry = {
        key: leaf.publicKey,
        certificates: certs,
        source: 'pinned',
        notAfter: Date.parse(leaf.validTo),
      }
    } else if (this.#anchors.length > 0) {
      const chain = validateChain(certs, this.#anchors, now, toleranceMs)
      entry = { key: leaf.publicKey, certificates: certs, source: 'ca', notAfter: chain.notAfter }
    } else {
      return undefined
    }
    this.#cache.set(id, entry)
    if (this.#cache.size > this.#cacheSize)
      this.#cache.delete(this.#cache.keys().next().value as string)
    return entry
  }

  /**
   * The keys that may have signed a token with this header: one for `x5c` and pins, possibly
   * several JWKS keys when the token has no `kid`.
   *
   * @throws {CertificateError} `ERR_CERT_UNTRUSTED`, `ERR_CERT_EXPIRED`, `ERR_CERT_NOT_YET_VALID`
   */
  async resolve(
    header: Record<string, unknown>,
    now: number,
    toleranceMs: number,
  ): Promise<TrustedKey[]> {
    if (header.x5c !== undefined && (this.#anchors.length > 0 || this.#pinned.size > 0)) {
      const found = this.#fromChain(header.x5c, now, toleranceMs)
      if (found) return [found]
    }
    const kid = typeof header.kid === 'string' ? header.kid : undefined
    if (this.#pinned.size > 0 && header.x5c === undefined) {
      const byKid = kid !== undefined ? this.#pinnedByThumbprint.get(kid) : undefined
      if (byKid) return [{ key: byKid, certificates: [], source: 'pinned' }]
      if (kid === undefined && this.#pinned.size === 1) {
        return [{ key: [...this.#pinned.values()][0]!, certificates: [], source: 'pinned' }]
      }
    }
    if (this.#jwks) {
      const keys = await this.#jwks.keysFor(kid)
      if (keys.length > 0)
        return keys.map((k) => ({
          key: k.key,
          certificates: [],
          source: 'jwks' as const,
          alg: k.alg,
        }))
    }
    throw new CertificateError(
      'ERR_CERT_UNTRUSTED',
      header.x5c !== undefined
        ? 'the x5c certificate is not pinned and no CA is configured'
        : `no trusted key for this token${kid !== undefined ? ` (kid ${JSON.stringify(kid.slice(0, 64))})` : ''}`,
    )
  }
}
