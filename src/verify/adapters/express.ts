/**
 * Express middleware. Put it after `express.json({ verify: captureRawBody })` (so the JSON
 * parser and the verifier see the same bytes), or first, reading `req.rawBody` yourself.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { captureRawBody, upstreamJwt } from 'kong-upstream-jwt/express'
 *
 * const app = express()
 * app.use(express.json({ verify: captureRawBody }))
 * app.use(upstreamJwt({ ca: './truststore/ca.pem', audience: 'orders' }))
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

/** Creates the Express middleware; failures answer 401 (RFC 6750) unless `onError` is given. */
export function upstreamJwt(options: NodeAdapterOptions): RequestHandler {
  const middleware = nodeMiddleware(options)
  return function upstreamJwtExpress(req: Request, res: Response, next: NextFunction) {
    void middleware(req as unknown as IncomingMessage, res as never, next)
  }
}
