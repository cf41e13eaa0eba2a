import type { Exchange } from '../exchange.js'
import { clientHeaders, upstreamHeaders } from '../forwarding.js'
import type { GatewayMetrics } from '../metrics.js'
import { classifyUpstreamFailure, type Upstreams } from '../upstream.js'

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
  const { req, res } = x
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
    for (const name in x.signedHeaders) headers[name.toLowerCase()] = x.signedHeaders[name]!
  } else {
    headers[tokenHeader] = x.token!.value
  }
  const size = body.digest.size
  if (size > 0 || !BODYLESS.has(x.method)) headers['content-length'] = String(size)
  x.upstreamStarted = performance.now()
  ctx.upstreams.send(
    service,
    {
      method: x.method as 'GET',
      path: x.query ? `${upstreamPath}?${x.query}` : upstreamPath,
      headers,
      signal: x,
    },
    () => (size === 0 ? null : (body.bytes ?? body.stream())),
    (response) => {
      x.upstreamMs = performance.now() - x.upstreamStarted
      ctx.metrics.recordUpstream(x.serviceName, x.upstreamMs / 1000)
      // The upstream has answered, so the body was sent whole: a temp file can go now.
      if (body.file) void body.dispose()
      x.status = response.statusCode
      x.responding = true
      res.writeHead(response.statusCode, clientHeaders(response.headers))
      return res
    },
    (err, afterHead) => {
      if (!err) return done(x, undefined)
      // After the head undici reports a broken upstream as the response's premature close; the
      // cause itself is the error the response was destroyed with.
      const failure = classifyUpstreamFailure(x.destroyedBy ?? err, service, {
        afterHead,
        clientGone: x.aborted,
      })
      done(x, failure)
    },
  )
}
