import { createReadStream, constants as fsConstants } from 'node:fs'
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { type BodyDigest, readBounded } from '../core/body-digest.js'
import { DEFAULT_BODY_BUFFER_SIZE } from '../core/defaults.js'
import { BodyError } from '../core/errors.js'

/** Limits and location for `spoolBody`. */
export interface SpoolOptions {
  /** Bytes kept in memory; a larger body goes to a temp file. Default 1 MiB. */
  readonly memoryLimit?: number
  /** Largest body accepted; beyond it `ERR_BODY_TOO_LARGE`. Default: no limit. */
  readonly maxSize?: number
  /** Folder for temp files; default `os.tmpdir()`. */
  readonly tmpDir?: string
  /** Aborts reading (e.g. the client went away); the temp file is removed. */
  readonly signal?: AbortSignal
}

/** A request body taken in whole, with its digest; replay it with `stream()` or `bytes`. */
export interface SpooledBody extends AsyncDisposable {
  readonly digest: BodyDigest
  /** The body when it fit in memory; `undefined` when it was spooled to a file. */
  readonly bytes: Buffer | undefined
  /** The temp file holding the body, when it did not fit in memory. */
  readonly file: string | undefined
  /** A fresh stream of exactly the bytes that were hashed. */
  stream(): Readable
  /** Removes the temp file, if any. Safe to call more than once. */
  dispose(): Promise<void>
}

/** Large reads from the spool file: the 16 KiB default halves the throughput of big uploads. */
const READ_HIGH_WATER_MARK = 1024 * 1024
const WRITE_BATCH = 1024 * 1024

class Spooled implements SpooledBody {
  readonly digest: BodyDigest
  readonly bytes: Buffer | undefined
  readonly file: string | undefined
  #dir: string | undefined
  #disposed: Promise<void> | undefined

  constructor(digest: BodyDigest, bytes: Buffer | undefined, dir?: string, file?: string) {
    this.digest = digest
    this.bytes = bytes
    this.file = file
    this.#dir = dir
  }

  stream(): Readable {
    if (this.file) return createReadStream(this.file, { highWaterMark: READ_HIGH_WATER_MARK })
    return Readable.from(this.bytes && this.bytes.length > 0 ? [this.bytes] : [])
  }

  dispose(): Promise<void> {
    const dir = this.#dir
    this.#disposed ??= dir ? rm(dir, { recursive: true, force: true }) : Promise.resolve()
    return this.#disposed
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose()
  }
}

/**
 * Reads a body once: hashes every chunk, keeps up to `memoryLimit` bytes in memory and spools
 * the rest to a private temp file (folder 0700, file 0600), so bodies of any size are hashed
 * and replayed in bounded memory. The bytes replayed by `stream()` are exactly the hashed ones.
 * On any failure (too large, read error, abort) the temp file is removed before the error is
 * thrown.
 *
 * @example
 * ```ts
 * await using body = await spoolBody(req, { maxSize: 100 * 2 ** 20 })
 * await fetch(upstream, { method: 'POST', body: body.stream(), duplex: 'half' })
 * ```
 * @throws {BodyError} `ERR_BODY_TOO_LARGE` or `ERR_BODY_READ`
 */
export async function spoolBody(
  source: AsyncIterable<Uint8Array | string>,
  options: SpoolOptions = {},
): Promise<SpooledBody> {
  const memoryLimit = options.memoryLimit ?? DEFAULT_BODY_BUFFER_SIZE
  let chunks: Buffer[] = []
  let size = 0
  let pending = 0
  let dir: string | undefined
  let file: string | undefined
  let handle: FileHandle | undefined

  const flush = async () => {
    if (!handle || chunks.length === 0) return
    const batch = chunks
    chunks = []
    pending = 0
    await handle.writev(batch)
  }
  const openFile = async () => {
    dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'kong-upstream-jwt-'))
    file = join(dir, 'body')
    const flags = fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY
    handle = await open(file, flags, 0o600)
  }
  // Synchronous while the body fits in memory: no promise per chunk on the common path.
  const take = (chunk: Buffer): Promise<void> | undefined => {
    chunks.push(chunk)
    size += chunk.length
    pending += chunk.length
    if (!handle && size > memoryLimit) return openFile().then(flush)
    if (handle && pending >= WRITE_BATCH) return flush()
    return undefined
  }

  try {
    const digest = await readBounded(
      source,
      { limit: options.maxSize, signal: options.signal },
      take,
    )
    await flush()
    await handle?.close()
    handle = undefined
    const bytes = file ? undefined : Buffer.concat(chunks)
    return new Spooled(digest, bytes, dir, file)
  } catch (err) {
    await handle?.close().catch(() => {})
    if (dir) await rm(dir, { recursive: true, force: true })
    if (err instanceof BodyError) throw err
    throw new BodyError('ERR_BODY_READ', 'request body could not be read', { cause: err })
  }
}
