import { createHash, type KeyObject, type SignKeyObjectInput, sign } from 'node:crypto'
import { type Algorithm, algorithmSpec, signKeyInput } from '../core/algorithms.js'
import { SigningError } from '../core/errors.js'
import type { ResolvedOptions } from '../options/table.js'
import type { KeyMaterial } from './keys.js'

/** The JOSE header of an upstream token (RFC 7515 §4.1). */
export interface JwsHeader {
  typ?: string
  alg: Algorithm
  x5c?: string[]
  kid?: string
  'x5t#S256'?: string
}

/** base64url (RFC 7515 §2: no padding) of a value's JSON. */
export function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/**
 * The header for a key and options: `typ`, `alg`, and as configured `x5c` (standard base64 per
 * RFC 7515 §4.1.6, or the original's base64url), `kid` (`auto` = RFC 7638 thumbprint) and
 * `x5t#S256` (RFC 7515 §4.1.8).
 *
 * @example
 * ```ts
 * buildHeader(material, resolveOptions({ key_id: 'auto', x5c: 'leaf' }))
 * ```
 */
export function buildHeader(material: KeyMaterial, options: ResolvedOptions): JwsHeader {
  const header: JwsHeader = { typ: options.typ, alg: material.algorithm }
  const leaf = material.certificates[0]
  if (options.x5c !== 'none' && leaf) {
    const certs = options.x5c === 'chain' ? material.certificates : [leaf]
    header.x5c = certs.map((c) => c.raw.toString(options.x5c_encoding))
  }
  if (options.key_id !== undefined) {
    header.kid = options.key_id === 'auto' ? material.thumbprint : options.key_id
  }
  if (options.include_x5t_s256 && leaf) {
    header['x5t#S256'] = createHash('sha256').update(leaf.raw).digest('base64url')
  }
  return header
}

/** A key ready to sign: the algorithm and the node:crypto arguments for it, made once. */
export interface SigningKey {
  readonly alg: Algorithm
  readonly digest: string | null
  readonly input: SignKeyObjectInput
  /**
   * The signature costs less than handing it to the thread pool (ES256, Ed25519: about 20 µs),
   * so the callback form signs on the calling thread. Optional: a key made without it uses
   * the pool.
   */
  readonly onLoop?: boolean
}

/**
 * ES256 and Ed25519 sign in about 20 µs, less than the pool's own cost per job (a job object,
 * a queue, a thread woken and the loop woken back: 3–5 µs of CPU, measured in bench/gateway);
 * RSA (about 1 ms), P-384, P-521 and Ed448 are slow enough to keep off the event loop.
 */
function cheapToSign(key: KeyObject, alg: Algorithm): boolean {
  if (alg === 'ES256') return true
  return alg === 'EdDSA' && key.asymmetricKeyType === 'ed25519'
}

/**
 * Keys that sign in a quarter of a millisecond or less (this machine: RSA-2048 0.23 ms,
 * Ed448 0.13 ms; RSA-3072 1.4 ms, RSA-4096 3.2 ms, P-384 0.55 ms, P-521 1.3 ms). With a worker
 * per core, RSA-4096 on the loop measured the same CPU as on the pool and 1.2–1.5× its p99.
 */
function quickToSign(key: KeyObject, alg: Algorithm): boolean {
  if (cheapToSign(key, alg) || key.asymmetricKeyType === 'ed448') return true
  return key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails?.modulusLength === 2048
}

function signsOnLoop(key: KeyObject, alg: Algorithm, signOn: SignOn): boolean {
  switch (signOn) {
    case 'loop':
      return true
    case 'pool':
      return false
    case 'own-core':
      return quickToSign(key, alg)
    case 'auto':
      return cheapToSign(key, alg)
  }
}

/**
 * Where the callback form signs: `loop` on the calling thread (no hand-off, the event loop
 * blocked for the signature), `pool` on libuv's thread pool (other cores, the loop free),
 * `auto` on the loop for keys cheaper to sign than a hand-off (ES256, Ed25519), else the pool.
 * `own-core` is `auto` for a process with a core to itself (a gateway worker per core): also
 * RSA-2048 and Ed448 (0.1–0.25 ms) on the loop, where the pool only adds a hand-off and
 * threads competing for the same cores; larger RSA keys, P-384 and P-521 (0.5–3 ms) stay on
 * the pool, so one signature does not hold up every other request of the worker.
 */
export type SignOn = 'auto' | 'loop' | 'pool' | 'own-core'

/**
 * Prepares a private key for {@link signCompact}. The key must already fit the algorithm
 * (see `assertKeyFitsAlgorithm`). `signOn` chooses where {@link signCompactCallback} signs.
 *
 * @example
 * ```ts
 * const signingKey = createSigningKey(createPrivateKey(pem), 'PS256')
 * ```
 */
export function createSigningKey(
  key: KeyObject,
  alg: Algorithm,
  signOn: SignOn = 'auto',
): SigningKey {
  return {
    alg,
    digest: algorithmSpec(alg).digest,
    input: signKeyInput(key, alg),
    onLoop: signsOnLoop(key, alg, signOn),
  }
}

/**
 * Signs `encodedHeader.encodedPayload` on the libuv thread pool (all cores, event loop free)
 * and returns the compact serialization (RFC 7515 §7.1). ECDSA signatures are in the JOSE
 * form r || s (RFC 7518 §3.4), not DER.
 *
 * @example
 * ```ts
 * const token = await signCompact(encodeJson(header), encodeJson(claims), createSigningKey(key, 'ES256'))
 * ```
 * @throws {SigningError}
 */
export function signCompact(
  encodedHeader: string,
  encodedPayload: string,
  signingKey: SigningKey,
): Promise<string> {
  const input = `${encodedHeader}.${encodedPayload}`
  const data = Buffer.from(input, 'latin1')
  return new Promise((resolve, reject) => {
    sign(signingKey.digest, data, signingKey.input, (err, sig) => {
      if (err) reject(signingFailed(signingKey, err))
      else resolve(`${input}.${sig.toString('base64url')}`)
    })
  })
}

/**
 * The callback form of {@link signCompact}: no promise, for request paths that count every
 * allocation. `done` is called once, on the event loop, with the compact serialization: before
 * this returns when the key signs on the loop (`signingKey.onLoop`), else from the thread pool.
 *
 * @example
 * ```ts
 * signCompactCallback(encodeJson(header), encodeJson(claims), signingKey, (err, token) => {})
 * ```
 */
export function signCompactCallback(
  encodedHeader: string,
  encodedPayload: string,
  signingKey: SigningKey,
  done: (err: SigningError | null, token: string) => void,
): void {
  const input = `${encodedHeader}.${encodedPayload}`
  if (signingKey.onLoop) {
    let sig: Buffer
    try {
      sig = sign(signingKey.digest, Buffer.from(input, 'latin1'), signingKey.input)
    } catch (err) {
      done(signingFailed(signingKey, err), '')
      return
    }
    done(null, `${input}.${sig.toString('base64url')}`)
    return
  }
  // The pool's hand-off is taken at the end of this round of I/O, with every other signature
  // asked for in it: libuv wakes an idle pool thread for each job it is given, so jobs given
  // one at a time, as requests are read, wake it once per signature, while a batch wakes it
  // once and the busy thread takes the rest from the queue (README, Gateway).
  toPool.push({ input, signingKey, done })
  if (toPool.length === 1) setImmediate(handToPool)
}

/** What every form of signing gives when node:crypto fails. */
function signingFailed(signingKey: SigningKey, cause: unknown): SigningError {
  return new SigningError(`signing with ${signingKey.alg} failed`, { cause })
}

interface PoolJob {
  readonly input: string
  readonly signingKey: SigningKey
  readonly done: (err: SigningError | null, token: string) => void
}

let toPool: PoolJob[] = []

function handToPool(): void {
  const jobs = toPool
  toPool = []
  for (const { input, signingKey, done } of jobs) {
    try {
      sign(signingKey.digest, Buffer.from(input, 'latin1'), signingKey.input, (err, sig) => {
        if (err) done(signingFailed(signingKey, err), '')
        else done(null, `${input}.${sig.toString('base64url')}`)
      })
    } catch (err) {
      // Thrown before the job reaches the pool (a key node:crypto refuses): this job fails, the
      // others of the batch go on.
      done(signingFailed(signingKey, err), '')
    }
  }
}

/**
 * The synchronous form of {@link signCompact}, for callers that cannot await. It blocks the
 * event loop for the whole signature (about 1 ms for RSA-2048).
 *
 * @example
 * ```ts
 * const token = signCompactSync(encodeJson(header), encodeJson(claims), createSigningKey(key, 'RS256'))
 * ```
 * @throws {SigningError}
 */
export function signCompactSync(
  encodedHeader: string,
  encodedPayload: string,
  signingKey: SigningKey,
): string {
  const input = `${encodedHeader}.${encodedPayload}`
  try {
    const sig = sign(signingKey.digest, Buffer.from(input, 'latin1'), signingKey.input)
    return `${input}.${sig.toString('base64url')}`
  } catch (err) {
    throw signingFailed(signingKey, err)
  }
}
