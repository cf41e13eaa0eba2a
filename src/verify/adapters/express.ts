/**
 * Express middleware. Put it before the body parsers: it reads the body (bounded), verifies the
 * token against it, and puts the bytes back into the request stream, so `express.json()` after
 * it parses exactly what was verified — and a refused request gets the verifier's answer
 * (401 + RFC 6750), never the parser's (a bad token with malformed JSON is a 401, not a 400).
 * Behind a parser instead, the parser must keep the bytes: `express.json({ verify: captureRawBody })`.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { upstreamJwt } from 'kong-upstream-jwt/express'
 *
 * const app = express()
 * app.use(upstreamJwt({ ca: './truststore/ca.pem', issuer: 'my-gateway', audience: 'orders' }))
 * app.use(express.json())
 * app.post('/orders', (req, res) => res.json({ consumer: req.upstreamJwt?.claims.consumerid, order: req.body }))
 * ```
 * @module
 */
import type { IncomingMessage } from 'node:http'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { VerifiedToken } from '../verifier.js'
import { type NodeAdapterOptions, upstreamJwt as nodeMiddleware } from './node.js'

export { rawBodyOf } from './node.js'

declare global {
  namespace Express {
    interface Request {
      /** The verified upstream token, set by the kong-upstream-jwt middleware. */
      upstreamJwt?: VerifiedToken
    }
  }
}

/**
 * For body parsers' `verify` option: keeps the exact bytes the parser read (`rawBodyOf(req)`),
 * so the middleware hashes what the parser parsed.
 */
export function captureRawBody(req: IncomingMessage, _res: unknown, buf: Buffer): void {
  ;(req as unknown as { rawBody: Buffer }).rawBody = buf
}

/**
 * Creates the Express middleware (put it before the body parsers); refusals answer like every
 * adapter's — status, `WWW-Authenticate` (RFC 6750), `{ "error", "message" }` — unless `onError`
 * is given.
 */
export function upstreamJwt(options: NodeAdapterOptions): RequestHandler {
  const middleware = nodeMiddleware(options)
  return function upstreamJwtExpress(req: Request, res: Response, next: NextFunction) {
    void middleware(req as unknown as IncomingMessage, res as never, next)
  }
}
