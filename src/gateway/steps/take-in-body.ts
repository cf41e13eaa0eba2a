import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { type BodyDigest, digestBytes } from '../../core/body-digest.js'
import { BodyError } from '../../core/errors.js'
import { type SpooledBody, spoolRequest } from '../body-spool.js'
import type { Exchange } from '../exchange.js'

/** Body limits of the proxy listener (Kong's nginx_http_client_* settings). */
export interface BodyLimits {
  /** Bytes kept in memory; larger bodies are spooled to a private temp file. */
  readonly bufferSize: number
  /** Largest body accepted; 0 = no limit (Kong's default). */
  readonly maxSize: number
  readonly tmpDir?: string | undefined
}

const DISPOSED: Promise<void> = Promise.resolve()

/** A body that fit in memory: nothing to dispose. A class, so a request allocates no closures. */
class MemoryBody implements SpooledBody {
  readonly digest: BodyDigest
  readonly bytes: Buffer
  readonly file = undefined
  constructor(digest: BodyDigest, bytes: Buffer) {
    this.digest = digest
    this.bytes = bytes
  }
  stream(): Readable {
    return Readable.from(this.bytes.length > 0 ? [this.bytes] : [])
  }
  dispose(): Promise<void> {
    return DISPOSED
  }
  [Symbol.asyncDispose](): Promise<void> {
    return DISPOSED
  }
}

const NO_BYTES = Buffer.alloc(0)
const NO_BODY = new MemoryBody(digestBytes(NO_BYTES), NO_BYTES)

/**
 * The request's framing says it has no body: neither Transfer-Encoding nor a Content-Length
 * above 0 (RFC 9112 §6.3, rule 7: a request without either has none). Node's parser has then
 * already taken the whole message in; nothing will arrive to read or hash.
 */
export function hasNoBody(req: IncomingMessage): boolean {
  const headers = req.headers
  if (headers['transfer-encoding'] !== undefined) return false
  const length = headers['content-length']
  return length === undefined || Number(length) === 0
}

/**
 * The client waits for `100 Continue` before sending the body. Node sends none itself when the
 * server has a 'checkContinue' listener, which the gateway has: so the answer can be a 413 or
 * 401 without a 100 first.
 */
export function expectsContinue(req: IncomingMessage): boolean {
  const expect = req.headers.expect
  return expect !== undefined && expect.toLowerCase() === '100-continue'
}

/** The declared Content-Length is over the limit: refuse before reading a byte. */
export function declaredTooLarge(req: IncomingMessage, limits: BodyLimits): BodyError | undefined {
  if (limits.maxSize <= 0) return undefined
  const declared = Number(req.headers['content-length'])
  if (!(declared > limits.maxSize)) return undefined
  return new BodyError('ERR_BODY_TOO_LARGE', 'request body exceeds client_max_body_size', {
    limit: limits.maxSize,
  })
}

/**
 * Step 3, take in the body: keeps it, in memory up to `bufferSize` (hashed in one call at its
 * end) and beyond that in a private temp file (`spoolRequest`, hashed chunk by chunk as written),
 * so what is forwarded is exactly what was hashed. Small bodies are read with 'data' events and no promise (the common case, measured
 * in bench/gateway); a request whose framing carries no body ({@link hasNoBody}) is done at
 * once. `done` gets a `BodyError` (413 over `maxSize`, 400 unreadable) or nothing, with
 * `x.body` set.
 *
 * @example
 * ```ts
 * takeInBody(x, limits, (x, err) => (err ? finish(x, err) : sign(x, metrics, next)))
 * ```
 */
export function takeInBody(
  x: Exchange,
  limits: BodyLimits,
  done: (x: Exchange, err: Error | undefined) => void,
): void {
  const tooLarge = declaredTooLarge(x.req, limits)
  // Refused before a byte is read, and before any 100 Continue (RFC 9110 §10.1.1).
  if (tooLarge) {
    done(x, tooLarge)
    return
  }
  const req = x.req
  if (hasNoBody(req)) {
    // A GET, most often: no listener, no hash to start, no tick to wait for 'end'. Node reads
    // the (empty) rest of the message itself once the response is sent.
    x.body = NO_BODY
    done(x, undefined)
    return
  }
  if (expectsContinue(req)) x.res.writeContinue()
  const maxSize = limits.maxSize > 0 ? limits.maxSize : Number.POSITIVE_INFINITY
  const chunks: Buffer[] = []
  let size = 0
  let finished = false
  // Stops listening, then either reports (`err` or the body taken in memory) or, with
  // `spill`, hands the request to the spooling reader, which reports when it is done.
  const end = (err: Error | undefined, spill = false) => {
    if (finished) return
    finished = true
    req.off('data', onData)
    req.off('end', onEnd)
    req.off('error', onError)
    if (!spill) return done(x, err)
    req.pause()
    spoolRequest(req, chunks, { maxSize, tmpDir: limits.tmpDir }, (spoolErr, body) => {
      x.body = body
      done(x, spoolErr)
    })
  }
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (size > maxSize) {
      return end(
        new BodyError('ERR_BODY_TOO_LARGE', `request body exceeds ${maxSize} bytes`, {
          limit: maxSize,
        }),
      )
    }
    chunks.push(chunk)
    // Over the memory buffer: the spooling reader hashes and writes from the first chunk on.
    if (size > limits.bufferSize) end(undefined, true)
  }
  const onEnd = () => {
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    // Hashed in one call, over exactly the bytes that are forwarded.
    x.body = new MemoryBody(digestBytes(bytes), bytes)
    end(undefined)
  }
  const onError = (err: Error) => end(BodyError.fromReadFailure(err))
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('error', onError)
}
