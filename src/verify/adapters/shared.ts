/**
 * What every framework adapter shares: options, reading a body in bounded memory, the request
 * view the verifier takes, and the RFC 6750 error response.
 * @module
 */
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import { readBounded } from '../../core/body-digest.js'
import { DEFAULT_MAX_BODY_SIZE } from '../../core/defaults.js'
import { BodyError, statusOf, UpstreamJwtError } from '../../core/errors.js'
import {
  createVerifier,
  type Verifier,
  type VerifierOptions,
  type VerifyRequest,
} from '../verifier.js'

/** What every adapter takes besides the verifier. */
export interface AdapterLimits {
  /** Largest body read for hashing, in bytes; larger bodies get 413. Default 10 MiB. */
  readonly maxBodySize?: number
}

/**
 * Options of every adapter: a verifier to share, or the options of one to create
 * (`audience` included: it is required), and the body limit.
 */
export type AdapterOptions = AdapterLimits &
  (
    | {
        /** A verifier to share (made with `createVerifier`). */
        readonly verifier: Verifier
      }
    | (VerifierOptions & { readonly verifier?: undefined })
  )

/** The response an adapter sends when verification fails: the same in every framework. */
export interface FailureResponse {
  readonly status: number
  /** `content-type`, and for 401 `www-authenticate` (RFC 6750 §3). */
  readonly headers: Record<string, string>
  readonly body: { readonly error: string; readonly message: string }
  /** `body` as sent: JSON text, so that every adapter sends the same bytes. */
  readonly text: string
}

export const DEFAULT_MAX_BODY = DEFAULT_MAX_BODY_SIZE

/** The verifier an adapter uses: the given one, or one made from the options. */
export function verifierFrom(options: AdapterOptions): Verifier {
  return options.verifier ?? createVerifier(options)
}

// RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E; quotes and backslashes out.
function quotedDescription(text: string): string {
  return text.replace(/[^\x20-\x7e]|["\\]/g, "'").slice(0, 200)
}

/**
 * The response for a refused request: the error's status (401 for token problems) with
 * `WWW-Authenticate: Bearer error="invalid_token", error_description="…"` (RFC 6750 §3.1) and
 * a JSON body `{ "error": code, "message": … }`, byte for byte the same in every adapter.
 * Unknown errors become a 500 without details.
 *
 * @example
 * ```ts
 * const { status, headers, body } = failureResponse(err)
 * ```
 */
export function failureResponse(err: unknown): FailureResponse {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (!(err instanceof UpstreamJwtError)) {
    const body = { error: 'ERR_INTERNAL', message: 'verification failed unexpectedly' }
    return { status: statusOf('ERR_INTERNAL'), headers, body, text: JSON.stringify(body) }
  }
  if (err.status === 401) {
    headers['www-authenticate'] =
      `Bearer error="invalid_token", error_description="${quotedDescription(err.message)}"`
  }
  const body = { error: err.code, message: err.message }
  return { status: err.status, headers, body, text: JSON.stringify(body) }
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  try {
    for await (const _ of stream) {
      // discarded
    }
  } catch {
    // the client went away: nothing left to read
  }
}

/**
 * Reads a web `ReadableStream` body (Hono, fetch-style servers) into one Buffer, refusing (413)
 * beyond `limit`. Over the limit the rest is read off and discarded in the background rather
 * than cancelled: a cancelled request body makes some servers drop the connection under the 413.
 */
export async function readWebBody(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Buffer> {
  const chunks: Buffer[] = []
  // preventCancel: over the limit the read stops without cancelling the request body...
  const source = stream.values({ preventCancel: true })
  try {
    // Copies: a framework may reuse the buffers it yields once the next chunk is read.
    await readBounded(source, { limit }, (chunk) => void chunks.push(Buffer.from(chunk)))
  } catch (err) {
    // ...and the rest is read off and discarded, so the server can still send the 413.
    if ((err as { code?: string }).code === 'ERR_BODY_TOO_LARGE') void drain(stream)
    throw err
  }
  return Buffer.concat(chunks)
}

/**
 * Reads a node request body whole (at most `limit` bytes, else 413) and, with `restore`, puts
 * the bytes back into the request stream before its end is signalled (`Readable#unshift`), so a
 * body parser that runs after the middleware reads exactly the bytes that were verified.
 * Over the limit, the rest of the body is read off and discarded, so the 413 reaches the client
 * instead of a reset connection. (Not `readBounded`: a node stream's async iterator ends only
 * after 'end' was emitted — too late to give the bytes back — and destroys the request when
 * the read stops early.)
 */
export function readNodeBody(
  req: Readable & { readonly complete?: boolean },
  limit: number,
  restore = false,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (err: unknown, body?: Buffer) => {
      req.removeListener('readable', onReadable)
      req.removeListener('end', onEnd)
      req.removeListener('error', onError)
      req.removeListener('close', onClose)
      if (err) reject(err)
      else resolve(body as Buffer)
    }
    function onReadable() {
      for (let chunk = req.read(); chunk !== null; chunk = req.read()) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
        size += bytes.length
        if (size > limit) {
          settle(
            new BodyError('ERR_BODY_TOO_LARGE', `request body exceeds ${limit} bytes`, { limit }),
          )
          req.resume()
          return
        }
        chunks.push(bytes)
      }
      // Everything is read and the message is complete: 'end' is due on the next tick, unless
      // the bytes go back into the stream now (node emits 'end' only on an empty buffer).
      if (restore && req.complete === true) {
        const body = Buffer.concat(chunks)
        if (body.length > 0) req.unshift(body)
        settle(undefined, body)
      }
    }
    function onEnd() {
      settle(undefined, Buffer.concat(chunks))
    }
    function onError(err: unknown) {
      settle(BodyError.fromReadFailure(err))
    }
    function onClose() {
      if (!req.readableEnded && req.complete !== true)
        settle(new BodyError('ERR_BODY_READ', 'request body could not be read: connection closed'))
    }
    req.on('readable', onReadable)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/** The absolute URL a node request was received at, for `htu`/`htq` checks. */
export function requestUrl(req: IncomingMessage): string | undefined {
  const host = req.headers.host
  if (!host || !req.url) return undefined
  const tls = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true
  return `${tls ? 'https' : 'http'}://${host}${req.url}`
}

/** The verifier's view of a node request with its body. */
export function nodeRequestView(req: IncomingMessage, body: Buffer | undefined): VerifyRequest {
  return {
    headers: req.headers,
    method: req.method,
    url: requestUrl(req),
    body: body && body.length > 0 ? body : undefined,
  }
}
