/**
 * Fastify plugin. Verifies in `preParsing`: the body is read once (bounded), hashed, and handed
 * on to Fastify's own content-type parsers, so `request.body` is parsed as usual and
 * `request.upstreamJwt` holds the verified token.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { fastifyUpstreamJwt } from 'kong-upstream-jwt/fastify'
 *
 * const app = Fastify()
 * await app.register(fastifyUpstreamJwt, { ca: './truststore/ca.pem', issuer: 'my-gateway', audience: 'orders' })
 * app.post('/orders', async (request) => ({ consumer: request.upstreamJwt?.claims.consumerid, order: request.body }))
 * ```
 * @module
 */
import { Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { VerifiedToken } from '../verifier.js'
import {
  type AdapterOptions,
  DEFAULT_MAX_BODY,
  failureResponse,
  readNodeBody,
  requestUrl,
  verifierFrom,
} from './shared.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified upstream token (null until verified). */
    upstreamJwt: VerifiedToken | null
  }
}

/**
 * Options of the Fastify plugin. Refusals are answered like every other adapter's (status,
 * `WWW-Authenticate`, `{ "error", "message" }`), unless `onError` is given or the routes have an
 * error handler of your own (`setErrorHandler`): that one then gets the error, with
 * `statusCode`, `headers` and the stable `code` (`ERR_…`).
 */
export type FastifyAdapterOptions = AdapterOptions & {
  /** Answers a refused request instead of the default; throw to hand it to Fastify's error handler. */
  readonly onError?: (err: unknown, request: FastifyRequest, reply: FastifyReply) => unknown
}

/** The error as Fastify's error handlers expect it: `statusCode`, `code`, `headers`. */
function fastifyError(err: unknown): Error {
  const { status, headers, body } = failureResponse(err)
  return Object.assign(new Error(body.message, { cause: err }), {
    statusCode: status,
    code: body.error,
    ...(headers['www-authenticate']
      ? { headers: { 'www-authenticate': headers['www-authenticate'] } }
      : {}),
  })
}

// Fastify's own handler answers in its own shape ({ statusCode, code, error, message }); only an
// error handler the user set is told about refusals.
function hasOwnErrorHandler(request: FastifyRequest): boolean {
  return request.server.errorHandler.name !== 'defaultErrorHandler'
}

const plugin: FastifyPluginAsync<FastifyAdapterOptions> = async (fastify, options) => {
  const verifier = verifierFrom(options)
  const limit = options.maxBodySize ?? DEFAULT_MAX_BODY
  fastify.decorateRequest('upstreamJwt', null)
  fastify.addHook('preParsing', async (request, reply, payload) => {
    try {
      const body = await readNodeBody(payload, limit)
      request.upstreamJwt = await verifier.verify({
        headers: request.headers,
        method: request.method,
        url: requestUrl(request.raw),
        body: body.length > 0 ? body : undefined,
      })
      return Readable.from(body.length > 0 ? [body] : [])
    } catch (err) {
      if (options.onError) await options.onError(err, request, reply)
      else if (hasOwnErrorHandler(request)) {
        // The RFC 6750 header comes along whatever the handler sends.
        const header = failureResponse(err).headers['www-authenticate']
        if (header) reply.header('www-authenticate', header)
        throw fastifyError(err)
      }
      if (!reply.sent) {
        // Fail closed: an onError that answered nothing still stops the request here.
        const { status, headers, text } = failureResponse(err)
        // Bytes, not a string: Fastify would add a charset to a JSON string's content type.
        reply.code(status).headers(headers).send(Buffer.from(text))
      }
      // Fastify stops before the handler only if the reply has ended; with an async onSend hook
      // it has not when send() returns, so wait for it. A reply that still did not end (the
      // client went away) is refused through the error path: the handler never runs.
      await reply
      if (!reply.sent) throw fastifyError(err)
      return undefined
    }
  })
  if (!options.verifier) fastify.addHook('onClose', async () => verifier.close())
}

/** The plugin, wrapped with fastify-plugin so the hook applies to the routes of its parent. */
export const fastifyUpstreamJwt = fp(plugin, { fastify: '5.x', name: 'kong-upstream-jwt' })
