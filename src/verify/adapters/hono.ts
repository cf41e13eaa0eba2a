/**
 * Hono middleware. Reads the body once (bounded) into Hono's body cache, so `c.req.json()`
 * and friends work after it; the verified token is `c.get('upstreamJwt')`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { honoUpstreamJwt } from 'kong-upstream-jwt/hono'
 *
 * const app = new Hono()
 * app.use(honoUpstreamJwt({ ca: './truststore/ca.pem', issuer: 'my-gateway', audience: 'orders' }))
 * app.post('/orders', async (c) => c.json({ consumer: c.get('upstreamJwt').claims.consumerid, order: await c.req.json() }))
 * ```
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { VerifiedToken } from '../verifier.js'
import {
  type AdapterOptions,
  DEFAULT_MAX_BODY,
  failureResponse,
  readWebBody,
  verifierFrom,
} from './shared.js'

declare module 'hono' {
  interface ContextVariableMap {
    /** The verified upstream token, set by the kong-upstream-jwt middleware. */
    upstreamJwt: VerifiedToken
  }
}

/** Options of the Hono middleware. */
export type HonoAdapterOptions = AdapterOptions & {
  /** Answers a refused request instead of the default 401/JSON (RFC 6750). */
  readonly onError?: (err: unknown, c: Context) => Response | Promise<Response>
}

function sendFailure(err: unknown, c: Context): Response {
  const { status, headers, text } = failureResponse(err)
  return c.body(text, status as 401, headers)
}

/** Creates the Hono middleware; failures answer 401 (RFC 6750) with a JSON body. */
export function honoUpstreamJwt(options: HonoAdapterOptions): MiddlewareHandler {
  const verifier = verifierFrom(options)
  const limit = options.maxBodySize ?? DEFAULT_MAX_BODY
  const onError = options.onError ?? sendFailure
  return async function upstreamJwt(c, next) {
    try {
      const raw = c.req.raw
      const body = raw.body ? await readWebBody(raw.body, limit) : Buffer.alloc(0)
      const bytes = body.buffer.slice(
        body.byteOffset,
        body.byteOffset + body.byteLength,
      ) as ArrayBuffer
      // Later c.req.json()/text()/arrayBuffer() read from this cache instead of the spent stream.
      // (Hono types the cache by value, but stores promises: see HonoRequest#cachedBody.)
      ;(c.req.bodyCache as Record<string, unknown>).arrayBuffer = Promise.resolve(bytes)
      const headers: Record<string, string> = {}
      raw.headers.forEach((value, name) => {
        headers[name] = value
      })
      c.set(
        'upstreamJwt',
        await verifier.verify({
          headers,
          method: raw.method,
          url: raw.url,
          body: body.length > 0 ? body : undefined,
        }),
      )
    } catch (err) {
      return onError(err, c)
    }
    await next()
  }
}
