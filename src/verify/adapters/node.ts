/**
 * Middleware for node:http and Connect-style stacks. Reads the body (bounded), verifies, then
 * exposes `req.upstreamJwt` (the verified token) and `req.rawBody` (the exact bytes).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { rawBodyOf, upstreamJwt, upstreamJwtOf } from 'kong-upstream-jwt/node'
 *
 * const guard = upstreamJwt({ ca: './truststore/ca.pem', issuer: 'my-gateway', audience: 'orders' })
 * createServer(async (req, res) => {
 *   if (!(await guard(req, res))) return // refused: 401 already sent
 *   res.end(`hello ${upstreamJwtOf(req)?.claims.consumername}, ${rawBodyOf(req)?.length} bytes`)
 * }).listen(8080)
 * ```
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BodyError } from '../../core/errors.js'
import type { VerifiedToken } from '../verifier.js'
import {
  type AdapterOptions,
  DEFAULT_MAX_BODY,
  failureResponse,
  nodeRequestView,
  readNodeBody,
  verifierFrom,
} from './shared.js'

/**
 * What the middleware adds to a request. (Not a global augmentation of IncomingMessage: body
 * parsers type `rawBody` differently, and the two would collide.)
 */
export interface UpstreamJwtFields {
  /** The verified upstream token. */
  upstreamJwt?: VerifiedToken
}

/** A node request after the middleware. */
export type RequestWithUpstreamJwt = IncomingMessage & UpstreamJwtFields

/** The verified token of a request the middleware let through. */
export function upstreamJwtOf(req: IncomingMessage): VerifiedToken | undefined {
  return (req as RequestWithUpstreamJwt).upstreamJwt
}

/** The exact body bytes of a request the middleware let through (or a parser captured). */
export function rawBodyOf(req: IncomingMessage): Buffer | undefined {
  const raw = (req as { rawBody?: unknown }).rawBody
  return Buffer.isBuffer(raw) ? raw : undefined
}

/** Options of the node:http middleware. */
export type NodeAdapterOptions = AdapterOptions & {
  /** Called instead of the default 401/JSON answer when verification fails. */
  readonly onError?: (err: unknown, req: IncomingMessage, res: ServerResponse) => void
}

function sendFailure(err: unknown, _req: IncomingMessage, res: ServerResponse): void {
  const { status, headers, text } = failureResponse(err)
  res.writeHead(status, headers)
  res.end(text)
}

/** The middleware: `(req, res, next?) => Promise<boolean>`; true (and `next()`) when verified. */
export type NodeMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => Promise<boolean>

/**
 * Body bytes for verification: those a body parser captured (`req.rawBody`), else the stream
 * itself (given back to the stream with `restore`). A body consumed by a parser that did not
 * capture them cannot be checked: fail closed.
 */
export async function bodyOf(
  req: IncomingMessage,
  limit: number,
  restore = false,
): Promise<Buffer> {
  const captured = rawBodyOf(req)
  if (captured) return captured
  if (req.readableEnded || (req as { _body?: boolean })._body === true) {
    throw new BodyError(
      'ERR_RAW_BODY_UNAVAILABLE',
      'the request body was consumed before verification; capture it (e.g. express.json({ verify: captureRawBody })) or verify first',
    )
  }
  return readNodeBody(req, limit, restore)
}

/** Creates the middleware. See the module example. */
export function upstreamJwt(options: NodeAdapterOptions): NodeMiddleware {
  const verifier = verifierFrom(options)
  const limit = options.maxBodySize ?? DEFAULT_MAX_BODY
  const onError = options.onError ?? sendFailure
  return async function upstreamJwtMiddleware(req, res, next) {
    try {
      // Restored: a body parser after the middleware (Express, Connect) reads the same bytes.
      const body = await bodyOf(req, limit, true)
      const fields = req as RequestWithUpstreamJwt
      ;(req as unknown as { rawBody: Buffer }).rawBody = body
      fields.upstreamJwt = await verifier.verify(nodeRequestView(req, body))
    } catch (err) {
      onError(err, req, res)
      return false
    }
    next?.()
    return true
  }
}
