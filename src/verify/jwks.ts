import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { jwkThumbprint } from '../core/keys.js'
import { VerifierUnavailableError } from './errors.js'

/** One key of a JWK Set, imported. */
export interface JwksKey {
  readonly kid: string
  readonly alg: string | undefined
  readonly key: KeyObject
}

/** Where the JWK Set comes from and how it is refreshed. */
export interface JwksOptions {
  /** A file path, an `http(s)://` URL, or the set itself. */
  readonly source: string | { readonly keys: readonly JsonWebKey[] }
  /** Refetch after this many ms even without an unknown kid; default 10 minutes. */
  readonly maxAge?: number
  /** At most one refetch per this many ms for unknown kids, so tokens cannot drive fetches; default 30 s. */
  readonly cooldown?: number
  /** Fetch timeout in ms; default 5 s. */
  readonly timeout?: number
  readonly clock?: () => number
}

function importSet(set: unknown): Map<string, JwksKey> {
  const keys = (set as { keys?: unknown })?.keys
  if (!Array.isArray(keys)) throw new Error('not a JWK Set (no "keys" array)')
  const out = new Map<string, JwksKey>()
  for (const jwk of keys as (JsonWebKey & { kid?: string; alg?: string; use?: string })[]) {
    if (jwk.use !== undefined && jwk.use !== 'sig') continue
    if ('d' in jwk) continue // never accept private material as a verification key
    let key: KeyObject
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' })
    } catch {
      continue // a key type this runtime cannot use is skipped, as RFC 7517 §5 asks
    }
    const kid = typeof jwk.kid === 'string' ? jwk.kid : jwkThumbprint(key)
    out.set(kid, { kid, alg: typeof jwk.alg === 'string' ? jwk.alg : undefined, key })
  }
  return out
}

/**
 * A JWK Set from a file, a URL or memory, cached. An unknown `kid` triggers a refetch at most
 * once per `cooldown`; when a refetch fails the cached keys stay in use.
 */
export class JwksSource {
  #options: JwksOptions
  #clock: () => number
  #keys = new Map<string, JwksKey>()
  #fetchedAt = Number.NEGATIVE_INFINITY
  #lastAttempt = Number.NEGATIVE_INFINITY
  #loading: Promise<void> | undefined

  constructor(options: JwksOptions) {
    this.#options = options
    this.#clock = options.clock ?? Date.now
    if (typeof options.source === 'object') {
      this.#keys = importSet(options.source)
      this.#fetchedAt = Number.POSITIVE_INFINITY
    }
  }

  async #load(): Promise<void> {
    const source = this.#options.source as string
    this.#lastAttempt = this.#clock()
    let set: unknown
    try {
      if (/^https?:\/\//i.test(source)) {
        const res = await fetch(source, {
          signal: AbortSignal.timeout(this.#options.timeout ?? 5000),
          headers: { accept: 'application/json' },
          redirect: 'error',
        })
        if (!res.ok) throw new Error(`HTTP ${res.status}`)
        set = await res.json()
      } else {
        set = JSON.parse(await readFile(source, 'utf8'))
      }
      this.#keys = importSet(set)
      this.#fetchedAt = this.#clock()
    } catch (err) {
      if (this.#keys.size === 0) {
        throw new VerifierUnavailableError(
          'ERR_JWKS_UNAVAILABLE',
          `JWKS ${source} could not be loaded: ${(err as Error).message}`,
          { cause: err },
        )
      }
    }
  }

  #refresh(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined
    })
    return this.#loading
  }

  /** The keys for a kid (or all keys when the token has none), refetching when due. */
  async keysFor(kid: string | undefined): Promise<JwksKey[]> {
    const now = this.#clock()
    if (now - this.#fetchedAt > (this.#options.maxAge ?? 600_000)) {
      // With keys in hand, refresh in the background: no request waits for the fetch.
      if (this.#keys.size === 0) await this.#refresh()
      else void this.#refresh()
    }
    if (kid === undefined) return [...this.#keys.values()]
    let found = this.#keys.get(kid)
    if (
      !found &&
      now - this.#lastAttempt >= (this.#options.cooldown ?? 30_000) &&
      typeof this.#options.source === 'string'
    ) {
      await this.#refresh()
      found = this.#keys.get(kid)
    }
    return found ? [found] : []
  }
}
