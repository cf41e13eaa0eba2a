import type { ServerResponse } from 'node:http'
import type { Exchange } from '../exchange.js'
import { upstreamHeaders } from '../forwarding.js'
import type { GatewayMetrics } from '../metrics.js'
import { classifyUpstreamFailure, type UpstreamReply, type Upstreams } from '../upstream.js'

// Methods whose requests carry no body unless the client sent one (RFC 9110 §9.3).
const BODYLESS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS'])

/** What `forward` needs from the gateway. */
export interface ForwardContext {
  readonly upstreams: Upstreams
  readonly metrics: GatewayMetrics
  readonly proto: 'http' | 'https'
}

/**
 * Step 5, forward: sends exactly the hashed bytes upstream with the token and Kong's
 * X-Forwarded-* headers, and streams the response back to the client. `done` gets the
 * upstream's failure (`UpstreamError`, 502/504, also when it broke off after the head) or
 * nothing (answered whole, or the client went away: `x.aborted`).
 *
 * @example
 * ```ts
 * forward(x, { upstreams, metrics, proto: 'http' }, (x, err) => finish(x, err))
 * ```
 */
export function forward(
  x: Exchange,
  ctx: ForwardContext,
  done: (x: Exchange, err: Error | undefined) => void,
): void {
  // The client left while the body was read or the token signed (on the thread pool): there
  // is nobody to answer, and an upstream response would be written to a closed response,
  // whose 'drain' never comes, holding its upstream connection paused for good.
  if (x.aborted) {
    done(x, undefined)
    return
  }
  const { req } = x
  const { route, upstreamPath } = x.match!
  const service = route.service
  const signer = x.runtime.signerFor.get(route)!
  const tokenHeader = signer.headerName.toLowerCase()
  const body = x.body!
  const headers = upstreamHeaders(req, {
    tokenHeader,
    host: x.upstreamHost,
    clientIp: req.socket.remoteAddress ?? '',
    proto: ctx.proto,
    port: req.socket.localPort ?? 0,
    path: x.path,
    drop: x.drop,
  })
  if (x.signedHeaders) {
    // The signature modes' headers replace any a client sent under those names.
    for (const name in x.signedHeaders) headers.push(name.toLowerCase(), x.signedHeaders[name]!)
  } else {
    headers.push(tokenHeader, x.token!.value)
  }
  const size = body.digest.size
  if (size > 0 || !BODYLESS.has(x.method)) headers.push('content-length', String(size))
  x.upstreamStarted = performance.now()
  x.upstreamCall = ctx.upstreams.send(
    service,
    { method: x.method, path: x.query ? `${upstreamPath}?${x.query}` : upstreamPath, headers },
    () => (size === 0 ? null : (body.bytes ?? body.stream())),
    new Forwarding(x, ctx.metrics, done),
  )
}

/** The exchange's side of the upstream call: passes the head on, classifies the end. */
class Forwarding implements UpstreamReply {
  readonly #x: Exchange
  readonly #metrics: GatewayMetrics
  readonly #done: (x: Exchange, err: Error | undefined) => void

  constructor(
    x: Exchange,
    metrics: GatewayMetrics,
    done: (x: Exchange, err: Error | undefined) => void,
  ) {
    this.#x = x
    this.#metrics = metrics
    this.#done = done
  }

  head(statusCode: number, headers: string[]): ServerResponse {
    const x = this.#x
    x.upstreamMs = performance.now() - x.upstreamStarted
    this.#metrics.recordUpstream(x.serviceName, x.upstreamMs / 1000)
    // The upstream has answered, so the body was sent whole: a temp file can go now.
    const body = x.body!
    if (body.file) void body.dispose()
    x.status = statusCode
    x.res.writeHead(statusCode, headers)
    return x.res
  }

  done(err: Error | undefined, afterHead: boolean): void {
    const x = this.#x
    const failure = err
      ? classifyUpstreamFailure(err, x.match!.route.service, { afterHead, clientGone: x.aborted })
      : undefined
    this.#done(x, failure)
  }
}
