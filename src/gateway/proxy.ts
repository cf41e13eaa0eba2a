import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { BodyError, UpstreamJwtError } from '../core/errors.js'
import { Exchange, sendJson } from './exchange.js'
import { drainThenClose } from './linger.js'
import type { GatewayMetrics } from './metrics.js'
import type { Runtime } from './runtime.js'
import { authenticate } from './steps/authenticate.js'
import { forward } from './steps/forward.js'
import { log } from './steps/log.js'
import { route } from './steps/route.js'
import { sign } from './steps/sign.js'
import { type BodyLimits, expectsContinue, takeInBody } from './steps/take-in-body.js'
import { UpstreamError, type Upstreams } from './upstream.js'

export type { BodyLimits } from './steps/take-in-body.js'

/** What the handler needs; `runtime()` is read per request so reloads swap it atomically. */
export interface ProxyContext {
  readonly runtime: () => Runtime
  readonly upstreams: Upstreams
  readonly metrics: GatewayMetrics
  readonly log: Logger
  readonly limits: BodyLimits
  readonly proto: 'http' | 'https'
  /** Called once per request when its response closes (the gateway counts requests in flight). */
  readonly onClosed?: () => void
}

const MESSAGES: Record<number, string> = {
  400: 'Bad request',
  413: 'Request size limit exceeded',
  500: 'An unexpected error occurred',
}

const EXCHANGE = Symbol('exchange')
type WithExchange = ServerResponse & { [EXCHANGE]?: Exchange }

/** The request in progress on a connection whose HTTP framing just broke (server 'clientError'). */
export function exchangeOn(socket: { _httpMessage?: unknown }): Exchange | undefined {
  return (socket._httpMessage as WithExchange | undefined | null)?.[EXCHANGE]
}

/**
 * Records a failure on the exchange and answers it when nothing was sent yet: the upstream's
 * failure as 502/504 (logged at error level even when the head had been passed on), broken
 * framing as 400, a client gone as 499 (nginx's code, nothing to answer), the gateway's typed
 * errors with their status and Kong's message.
 */
export function settleFailure(x: Exchange, err: unknown): void {
  const res = x.res
  if (err instanceof UpstreamError) {
    x.status = err.status
    x.upstream = err.upstream
    x.error = `${err.code}: ${err.message} (${err.reason} from ${err.upstream}${err.afterHead ? ', after the response head' : ''})`
    if (err.afterHead) res.destroy()
    else sendJson(res, err.status, { message: err.message, code: err.code })
  } else if (x.malformed !== undefined) {
    // node's parser refused the framing; the 'clientError' handler answered 400 already.
    x.status = 400
    x.error = `ERR_BODY_READ: malformed request (${x.malformed})`
  } else if (x.aborted) {
    x.status = 499
    x.error = 'client closed the connection'
  } else if (err instanceof UpstreamJwtError) {
    x.status = err.status
    x.error = `${err.code}: ${err.message}`
    const message =
      err.status >= 500 && err.status < 502
        ? MESSAGES[500]
        : err.status in MESSAGES && err.status !== 401
          ? MESSAGES[err.status]!
          : err.message
    if (err instanceof BodyError && err.status === 413 && !expectsContinue(x.req)) {
      // The client may still be uploading: let it read the 413 (RFC 9112 §9.6).
      sendJson(res, 413, { message, code: err.code })
      drainThenClose(x.req, res)
    } else {
      // A client that expects 100 Continue has sent no body yet: close at once.
      sendJson(res, err.status, { message, code: err.code }, err.status === 413)
    }
  } else {
    x.status = 500
    x.error = `unexpected: ${(err as Error)?.message ?? String(err)}`
    sendJson(res, 500, { message: MESSAGES[500] })
  }
}

/**
 * The proxy request handler, as named steps: route → authenticate → take in the body → sign →
 * forward → log. Each step is a function of the exchange (src/gateway/steps/) that answers its
 * own refusals; the handler only chains them. Callbacks, not promises: the request path is
 * measured against a bare signing proxy (bench/gateway). Never forwards unsigned: every failure
 * before the upstream request ends the request here with Kong-style JSON.
 */
export function createProxyHandler(ctx: ProxyContext) {
  const forwardContext = { upstreams: ctx.upstreams, metrics: ctx.metrics, proto: ctx.proto }

  const finish = (x: Exchange, err?: unknown) => {
    if (err !== undefined || x.aborted) settleFailure(x, err)
    const body = x.body
    if (body?.file) void body.dispose()
    log(x, ctx.metrics, ctx.log)
  }
  const forwarded = (x: Exchange, err: Error | undefined) => finish(x, err)
  const signed = (x: Exchange, err: Error | undefined) =>
    err ? finish(x, err) : forward(x, forwardContext, forwarded)
  const bodyTaken = (x: Exchange, err: Error | undefined) => {
    // A client gone by now gets no signature: there is nobody to forward for.
    if (err || x.aborted) return finish(x, err)
    const body = x.body!
    ctx.metrics.bytesHashed.inc(body.digest.size)
    if (body.file) ctx.metrics.spooled.inc()
    sign(x, ctx.metrics, signed)
  }

  const onClosed = ctx.onClosed
  // One listener for every response, shared: no closure per request.
  function onResponseClose(this: WithExchange): void {
    if (!this.writableFinished) this[EXCHANGE]?.clientGone()
    onClosed?.()
  }

  return function handle(req: IncomingMessage, res: ServerResponse): Exchange {
    const x = new Exchange(ctx.runtime(), req, res)
    ;(res as WithExchange)[EXCHANGE] = x
    res.on('close', onResponseClose)
    try {
      if (!route(x) || !authenticate(x)) finish(x)
      else takeInBody(x, ctx.limits, bodyTaken)
    } catch (err) {
      finish(x, err)
    }
    return x
  }
}
