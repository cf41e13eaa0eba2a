/**
 * Koa middleware. Put it before your body parser: it reads the body once (bounded), verifies,
 * sets `ctx.state.upstreamJwt`, and hands the same bytes on, so `@koa/bodyparser` after it
 * parses as usual (and sets `ctx.request.rawBody` from them).
 *
 * @example
 * ```ts
 * import Koa from 'koa'
 * import { bodyParser } from '@koa/bodyparser'
 * import { koaUpstreamJwt } from 'kong-upstream-jwt/koa'
 *
 * const app = new Koa()
 * app.use(koaUpstreamJwt({ ca: './truststore/ca.pem', issuer: 'my-gateway', audience: 'orders' }))
 * app.use(bodyParser())
 * app.use((ctx) => { ctx.body = { consumer: ctx.state.upstreamJwt.claims.consumerid, order: ctx.request.body } })
 * ```
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import type { Context, Middleware } from 'koa'
import { bodyOf } from './node.js'
import {
  type AdapterOptions,
  DEFAULT_MAX_BODY,
  failureResponse,
  nodeRequestView,
  verifierFrom,
} from './shared.js'

/** Options of the Koa middleware. */
export type KoaAdapterOptions = AdapterOptions & {
  /** Answers a refused request instead of the default 401/JSON (RFC 6750). */
  readonly onError?: (err: unknown, ctx: Context) => void | Promise<void>
}

function sendFailure(err: unknown, ctx: Context): void {
  const { status, headers, text } = failureResponse(err)
  ctx.status = status
  ctx.body = text
  // After the body: Koa would otherwise type a string body text/plain.
  ctx.set(headers)
}

/**
 * The request again, readable from the start: stream methods come from a replay of the body,
 * everything else (headers, socket, url) from the original request.
 */
function replayable(req: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = Readable.from(body.length > 0 ? [body] : [])
  return new Proxy(replay, {
    get(target, key) {
      if (key in target) {
        const value = Reflect.get(target, key, target)
        return typeof value === 'function' ? value.bind(target) : value
      }
      const value = Reflect.get(req, key, req)
      return typeof value === 'function' ? value.bind(req) : value
    },
  }) as unknown as IncomingMessage
}

/** Creates the Koa middleware; failures answer 401 (RFC 6750) with a JSON body. */
export function koaUpstreamJwt(options: KoaAdapterOptions): Middleware {
  const verifier = verifierFrom(options)
  const limit = options.maxBodySize ?? DEFAULT_MAX_BODY
  const onError = options.onError ?? sendFailure
  return async function upstreamJwt(ctx, next) {
    try {
      const req = ctx.req as unknown as IncomingMessage
      const body = await bodyOf(req, limit)
      ctx.state.upstreamJwt = await verifier.verify(nodeRequestView(req, body))
      const replay = replayable(req, body) as unknown as typeof ctx.req
      ctx.req = replay
      ctx.request.req = replay
    } catch (err) {
      await onError(err, ctx)
      return
    }
    await next()
  }
}
