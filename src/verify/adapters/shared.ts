/**
 * What every framework adapter shares: options, reading a body in bounded memory, the request
 * view the verifier takes, and the RFC 6750 error response.
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { readBounded } from '../../core/body-digest.js'
import { DEFAULT_MAX_BODY_SIZE } from '../../core/defaults.js'
import { statusOf, UpstreamJwtError } from '../../core/errors.js'
import {
  createVerifier,
  type Verifier,
  type VerifierOptions,
  type VerifyRequest,
} from '../verifier.js'

/** Options of every adapter: a verifier (or its options), the body limit and the error hook. */
export interface AdapterOptions extends Partial<VerifierOptions> {
  /** A verifier to share; when absent, one is created from the other options. */
  readonly verifier?: Verifier
  /** Largest body read for hashing, in bytes; larger bodies get 413. Default 10 MiB. */
  readonly maxBodySize?: number
}

/** The response an adapter sends when verification fails. */
export interface FailureResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: { readonly error: string; readonly message: string }
}

export const DEFAULT_MAX_BODY = DEFAULT_MAX_BODY_SIZE

/** The verifier an adapter uses: the given one, or one made from the options. */
export function verifierFrom(options: AdapterOptions): Verifier {
  return options.verifier ?? createVerifier(options as VerifierOptions)
}

// RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E; quotes and backslashes out.
function quotedDescription(text: string): string {
  return text.replace(/[^\x20-\x7e]|["\\]/g, "'").slice(0, 200)
}

/**
 * The response for a refused request: the error's status (401 for token problems) with
 * `WWW-Authenticate: Bearer error="invalid_token", error_description="…"` (RFC 6750 §3.1) and
 * a JSON body with the stable code. Unknown errors become a 500 without details.
 *
 * @example
 * ```ts
 * const { status, headers, body } = failureResponse(err)
 * ```
 */
export function failureResponse(err: unknown): FailureResponse {
  if (!(err instanceof UpstreamJwtError)) {
    return {
      status: statusOf('ERR_INTERNAL'),
      headers: {},
      body: { error: 'ERR_INTERNAL', message: 'verification failed unexpectedly' },
    }
  }
  const headers: Record<string, string> = {}
  if (err.status === 401) {
    headers['www-authenticate'] =
      `Bearer error="invalid_token", error_description="${quotedDescription(err.message)}"`
  }
  return { status: err.status, headers, body: { error: err.code, message: err.message } }
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
  // Copies: a framework may reuse the buffers it yields once the next chunk is read.
  await readBounded(stream, { limit }, (chunk) => void chunks.push(Buffer.from(chunk)))
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
