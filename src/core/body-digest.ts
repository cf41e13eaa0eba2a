import * as nodeCrypto from 'node:crypto'
import { createHash, type Hash } from 'node:crypto'
import { BodyError } from './errors.js'

// crypto.hash (Node 20.12+, 21.7+): a digest in one call, without a Hash object and its three
// calls. Looked up, not imported by name, so the module still loads on the Kong images' Node 18.
const hashOnce = (nodeCrypto as { hash?: (alg: string, data: Uint8Array, out: 'hex') => string })
  .hash

/** The SHA-256 of a request body and its size; what the `payloadhash` claim is made from. */
export interface BodyDigest {
  /** Body size in bytes. */
  readonly size: number
  /** Lowercase hex SHA-256 of the body bytes. */
  readonly sha256: string
  /**
   * Lowercase hex SHA-512 of the body bytes, when asked for ({@link DigestOptions}): for an
   * RFC 9530 `Content-Digest` that names `sha-512` alone.
   */
  readonly sha512?: string | undefined
}

/** What to compute besides the SHA-256 that every digest has. */
export interface DigestOptions {
  /** Also the SHA-512 (`BodyDigest.sha512`). */
  readonly sha512?: boolean | undefined
}

/** The `payloadhash` claim for a body: hex SHA-256, or `""` for an empty or absent body. */
export function payloadHash(digest: BodyDigest | null | undefined): string {
  // The original plugin sent "" when nginx had no body data, not the hash of empty input.
  return digest && digest.size > 0 ? digest.sha256 : ''
}

/**
 * Incremental SHA-256 over body chunks, with an optional size limit checked on every chunk
 * so an oversized body is refused before it is read whole.
 *
 * @example
 * ```ts
 * const hasher = new BodyHasher({ limit: 1024 * 1024 })
 * for await (const chunk of req) hasher.update(chunk)
 * const { sha256, size } = hasher.digest()
 * ```
 */
export class BodyHasher {
  #hash: Hash = createHash('sha256')
  #sha512: Hash | undefined
  #size = 0
  #limit: number
  #done = false

  constructor(options: { limit?: number | undefined } & DigestOptions = {}) {
    this.#limit = options.limit ?? Number.POSITIVE_INFINITY
    if (options.sha512) this.#sha512 = createHash('sha512')
  }

  /** Bytes taken in so far. */
  get size(): number {
    return this.#size
  }

  /**
   * Adds a chunk. Strings are hashed as UTF-8.
   * @throws {BodyError} `ERR_BODY_TOO_LARGE` once the total passes the limit
   */
  update(chunk: Uint8Array | string): this {
    if (this.#done) throw new TypeError('BodyHasher.update() after digest()')
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    this.#size += bytes.byteLength
    if (this.#size > this.#limit) {
      throw new BodyError('ERR_BODY_TOO_LARGE', `request body exceeds ${this.#limit} bytes`, {
        limit: this.#limit,
      })
    }
    this.#hash.update(bytes)
    this.#sha512?.update(bytes)
    return this
  }

  /** Finishes the hash; the hasher cannot be used afterwards. */
  digest(): BodyDigest {
    this.#done = true
    const sha256 = this.#hash.digest('hex')
    return this.#sha512
      ? { size: this.#size, sha256, sha512: this.#sha512.digest('hex') }
      : { size: this.#size, sha256 }
  }
}

/**
 * Digest of a body held in memory.
 *
 * @example
 * ```ts
 * digestBytes('hello').sha256 // '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
 * digestBytes('hello', { sha512: true }).sha512 // '9b71d224bd62f3785d96d46ad3ea3d73…'
 * ```
 */
export function digestBytes(body: Uint8Array | string, options?: DigestOptions): BodyDigest {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  const sha256 = hashOf('sha256', bytes)
  return options?.sha512
    ? { size: bytes.byteLength, sha256, sha512: hashOf('sha512', bytes) }
    : { size: bytes.byteLength, sha256 }
}

/** Lowercase hex SHA-512 of a body (strings as UTF-8): `BodyDigest.sha512` made apart. */
export function sha512Hex(body: Uint8Array | string): string {
  return hashOf('sha512', typeof body === 'string' ? Buffer.from(body) : body)
}

function hashOf(algorithm: 'sha256' | 'sha512', bytes: Uint8Array): string {
  return hashOnce
    ? hashOnce(algorithm, bytes, 'hex')
    : createHash(algorithm).update(bytes).digest('hex')
}

/** Limits of a bounded body read, and what to hash besides SHA-256. */
export interface BodyReadOptions extends DigestOptions {
  /** Largest body accepted, in bytes; beyond it `ERR_BODY_TOO_LARGE`. Default: no limit. */
  readonly limit?: number
  /** Aborts the read (e.g. the client went away): `ERR_BODY_READ`. */
  readonly signal?: AbortSignal | undefined
}

/**
 * The one bounded body reader under every use (digest only, the middleware's buffer, the
 * gateway's spool): reads a body chunk by chunk, hashes each chunk, refuses it as soon as the
 * limit is passed, and hands each chunk (as a Buffer over the same bytes) to `sink` before the
 * next is read. A failed or aborted read becomes `ERR_BODY_READ`; the sink's own `BodyError`
 * passes through.
 *
 * @example
 * ```ts
 * const chunks: Buffer[] = []
 * const digest = await readBounded(req, { limit: 2 ** 20 }, (c) => void chunks.push(c))
 * ```
 * @throws {BodyError} `ERR_BODY_TOO_LARGE` over the limit, `ERR_BODY_READ` when the read fails
 */
export async function readBounded(
  source: AsyncIterable<Uint8Array | string>,
  options: BodyReadOptions = {},
  sink?: (chunk: Buffer) => void | Promise<void>,
): Promise<BodyDigest> {
  const hasher = new BodyHasher(options)
  const signal = options.signal
  try {
    signal?.throwIfAborted()
    for await (const raw of source) {
      signal?.throwIfAborted()
      const chunk =
        typeof raw === 'string'
          ? Buffer.from(raw)
          : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
      hasher.update(chunk)
      if (sink) {
        const pending = sink(chunk)
        if (pending) await pending
      }
    }
    signal?.throwIfAborted()
  } catch (err) {
    throw BodyError.fromReadFailure(err)
  }
  return hasher.digest()
}

/**
 * Digest of a body read from a stream, chunk by chunk, in constant memory.
 *
 * @example
 * ```ts
 * const digest = await digestStream(fs.createReadStream('body.bin'), { limit: 10 * 2 ** 20 })
 * ```
 * @throws {BodyError} `ERR_BODY_TOO_LARGE` over the limit, `ERR_BODY_READ` when the stream fails
 */
export function digestStream(
  stream: AsyncIterable<Uint8Array | string>,
  options: { limit?: number } & DigestOptions = {},
): Promise<BodyDigest> {
  return readBounded(stream, options)
}
