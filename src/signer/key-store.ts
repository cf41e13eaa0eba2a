import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import type { ResolvedOptions } from '../options/table.js'
import {
  buildHeader,
  createSigningKey,
  encodeJson,
  type JwsHeader,
  type SigningKey,
  type SignOn,
} from './jws.js'
import { type KeyMaterial, loadKeyMaterial } from './keys.js'

/** Where the signer reports what an operator should see. A pino logger fits. */
export interface SignerLogger {
  info(msg: string): void
  warn(msg: string): void
  error(msg: string): void
}

/** A public key in JWK form with the members a verifier looks for (RFC 7517 §4). */
export interface PublicJwk {
  readonly kty: string
  readonly kid: string
  readonly alg: string
  readonly use: 'sig'
  readonly x5c?: readonly string[]
  readonly 'x5t#S256'?: string
  readonly [member: string]: unknown
}

/** A key in use: the material, and what is derived from it once rather than per request. */
export interface ActiveKey {
  readonly material: KeyMaterial
  readonly header: JwsHeader
  /** The base64url header, encoded once per key: it never changes between requests. */
  readonly encodedHeader: string
  readonly signingKey: SigningKey
  readonly jwk: PublicJwk
  /** Earliest `notAfter` of the chain in ms; signing stops past it (fail closed). */
  readonly expiresAt: number
}

function activate(material: KeyMaterial, options: ResolvedOptions, signOn: SignOn): ActiveKey {
  const header = buildHeader(material, options)
  const leaf = material.certificates[0]
  const jwk: PublicJwk = {
    ...(material.publicKey.export({ format: 'jwk' }) as { kty: string }),
    kid: header.kid ?? material.thumbprint,
    alg: material.algorithm,
    use: 'sig',
    // RFC 7517 §4.7: x5c in a JWK is always standard base64, whatever the token header uses.
    ...(leaf ? { x5c: material.certificates.map((c) => c.raw.toString('base64')) } : {}),
    ...(leaf ? { 'x5t#S256': createHash('sha256').update(leaf.raw).digest('base64url') } : {}),
  }
  const expiresAt = Math.min(
    ...material.certificates.map((c) => new Date(c.validTo).getTime()),
    Number.POSITIVE_INFINITY,
  )
  return {
    material,
    header,
    encodedHeader: encodeJson(header),
    signingKey: createSigningKey(material.privateKey, material.algorithm, signOn),
    jwk,
    expiresAt,
  }
}

async function stampOf(options: ResolvedOptions): Promise<string> {
  const files = [options.private_key_location, options.public_key_location].filter(
    (f): f is string => typeof f === 'string',
  )
  const stats = await Promise.all(files.map((f) => stat(f).catch(() => undefined)))
  return stats.map((s) => (s ? `${s.ino}:${s.size}:${s.mtimeMs}` : '-')).join('|')
}

/**
 * Holds the signing key and reloads it when its files change, for rotation without restart.
 * Checks are lazy (`poll()` on each signature, at most once per `key_reload_interval`), so
 * there is no timer to leak. A new key that fails its checks is refused with a log line and
 * the current one kept; the key it replaced stays published in the JWKS as `previous`.
 */
export class KeyStore {
  #options: ResolvedOptions
  #log: SignerLogger
  #clock: () => number
  #active: ActiveKey
  #previous: ActiveKey | undefined
  #stamp: string
  #nextCheck: number
  #checking: Promise<boolean> | undefined
  readonly #signOn: SignOn

  private constructor(
    options: ResolvedOptions,
    log: SignerLogger,
    clock: () => number,
    active: ActiveKey,
    stamp: string,
    signOn: SignOn,
  ) {
    this.#signOn = signOn
    this.#options = options
    this.#log = log
    this.#clock = clock
    this.#active = active
    this.#stamp = stamp
    this.#nextCheck = clock() + options.key_reload_interval * 1000
    for (const warning of active.material.warnings) log.warn(warning)
  }

  /**
   * Loads and checks the configured key; throws the first problem found.
   *
   * @example
   * ```ts
   * const store = await KeyStore.open(resolveOptions(config), logger, Date.now)
   * ```
   */
  static async open(
    options: ResolvedOptions,
    log: SignerLogger,
    clock: () => number,
    signOn: SignOn = 'auto',
  ): Promise<KeyStore> {
    const stamp = await stampOf(options)
    const material = await loadKeyMaterial(options, new Date(clock()))
    return new KeyStore(options, log, clock, activate(material, options, signOn), stamp, signOn)
  }

  get active(): ActiveKey {
    return this.#active
  }

  get previous(): ActiveKey | undefined {
    return this.#previous
  }

  /** Starts a background check of the key files if one is due. Never throws, never waits. */
  poll(now: number = this.#clock()): void {
    if (this.#options.key_reload_interval === 0 || this.#checking) return
    if (now < this.#nextCheck) return
    this.#nextCheck = now + this.#options.key_reload_interval * 1000
    this.#checking = this.reload().finally(() => {
      this.#checking = undefined
    })
  }

  /**
   * Checks the key files now and loads them if they changed. Resolves `true` when a new key
   * is in use; a bad new key is logged and the current one kept (resolves `false`).
   */
  async reload(): Promise<boolean> {
    const stamp = await stampOf(this.#options)
    if (stamp === this.#stamp) return false
    this.#stamp = stamp
    try {
      const material = await loadKeyMaterial(this.#options, new Date(this.#clock()))
      const next = activate(material, this.#options, this.#signOn)
      this.#previous = this.#active
      this.#active = next
      this.#log.info(`signing key reloaded from ${material.files.key} (kid ${next.jwk.kid})`)
      for (const warning of material.warnings) this.#log.warn(warning)
      return true
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      this.#log.error(
        `key files changed but the new key was refused, keeping the current one: ${message}`,
      )
      return false
    }
  }
}
