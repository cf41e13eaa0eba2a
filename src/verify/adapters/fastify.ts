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
 * await app.register(fastifyUpstreamJwt, { ca: './truststore/ca.pem', issuer: 'my-gateway' })
 * app.post('/orders', async (request) => ({ consumer: request.upstreamJwt?.claims.consumerid, order: request.body }))
 * ```
 * @module
 */
import { Readable } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { VerifiedToken } from '../verifier.js'
import {
  type AdapterOptions,
  DEFAULT_MAX_BODY,
  failureResponse,
  readBody,
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
 * Options of the Fastify plugin. To answer refusals your own way, use Fastify's
 * `setErrorHandler`: the error has `statusCode` and the stable `code` (`ERR_…`).
 */
export interface FastifyAdapterOptions extends AdapterOptions {}

const plugin: FastifyPluginAsync<FastifyAdapterOptions> = async (fastify, options) => {
  const verifier = verifierFrom(options)
  const limit = options.maxBodySize ?? DEFAULT_MAX_BODY
  fastify.decorateRequest('upstreamJwt', null)
  fastify.addHook('preParsing', async (request, reply, payload) => {
    try {
      const body = await readBody(payload, limit)
      request.upstreamJwt = await verifier.verify({
        headers: request.headers,
        method: request.method,
        url: requestUrl(request.raw),
        body: body.length > 0 ? body : undefined,
      })
      return Readable.from(body.length > 0 ? [body] : [])
    } catch (err) {
      const { status, headers, body } = failureResponse(err)
      // Thrown errors go to Fastify's error handler; the status and RFC 6750 header come along.
      reply.headers(headers)
      throw Object.assign(new Error(body.message), { statusCode: status, code: body.error })
    }
  })
  if (!options.verifier) fastify.addHook('onClose', async () => verifier.close())
}

/** The plugin, wrapped with fastify-plugin so the hook applies to the routes of its parent. */
export const fastifyUpstreamJwt = fp(plugin, { fastify: '5.x', name: 'kong-upstream-jwt' })
