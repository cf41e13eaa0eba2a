/**
 * What every framework adapter shares: options, reading a body in bounded memory, the request
 * view the verifier takes, and the RFC 6750 error response.
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { BodyError, UpstreamJwtError } from '../../errors.js'
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

export const DEFAULT_MAX_BODY = 10 * 1024 * 1024

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
    return { status: 500, headers, body, text: JSON.stringify(body) }
  }
  if (err.status === 401) {
    headers['www-authenticate'] =
      `Bearer error="invalid_token", error_description="${quotedDescription(err.message)}"`
  }
  const body = { error: err.code, message: err.message }
  return { status: err.status, headers, body, text: JSON.stringify(body) }
}

/**
 * Reads a request body into one Buffer, refusing (413) beyond `limit` as soon as it is passed.
 * Adapters need the bytes twice: to hash and for the application's parser.
 */
export async function readBody(
  stream: AsyncIterable<Uint8Array | string>,
  limit: number,
): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk)
      size += bytes.length
      if (size > limit) {
        throw new BodyError('ERR_BODY_TOO_LARGE', `request body exceeds ${limit} bytes`, { limit })
      }
      chunks.push(bytes)
    }
  } catch (err) {
    if (err instanceof BodyError) throw err
    throw new BodyError('ERR_BODY_READ', 'request body could not be read', { cause: err })
  }
  return Buffer.concat(chunks)
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
