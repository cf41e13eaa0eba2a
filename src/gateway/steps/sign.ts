import { hostWithPort } from '../../core/defaults.js'
import type { RequestFacts } from '../../signer/facts.js'
import type { Exchange } from '../exchange.js'
import type { GatewayMetrics } from '../metrics.js'

/** The Host header sent upstream: the client's with preserve_host, else the service's. */
export function upstreamHostOf(x: Exchange): string {
  const { route } = x.match!
  const service = route.service
  if (route.preserve_host && x.req.headers.host) return x.req.headers.host
  return hostWithPort(service.protocol, service.host, service.port)
}

/** What the token says about the request: the facts as the upstream will receive them. */
export function factsOf(x: Exchange): RequestFacts {
  const { route, upstreamPath } = x.match!
  const service = route.service
  const digest = x.body!.digest
  return {
    method: x.method,
    scheme: service.protocol,
    host: x.upstreamHost,
    path: upstreamPath,
    query: x.query,
    body: digest.size > 0 ? digest : undefined,
    // The entries themselves (they carry `id` and `name`): no two objects per request.
    service,
    route,
    consumer: x.consumer,
    headers: x.req.headers,
  }
}

/**
 * Step 4, sign: issues the route's token (and, with `signature_mode` http-signature or both,
 * the HTTP Message Signature headers: `x.signedHeaders`) over the facts of the request as
 * forwarded (upstream host and path, the body's digest), on the crypto thread pool. `done` gets the signer's error
 * (the request is then refused, never forwarded unsigned) or nothing, with `x.token` set.
 *
 * @example
 * ```ts
 * sign(x, metrics, (x, err) => (err ? finish(x, err) : forward(x, context, finish)))
 * ```
 */
export function sign(
  x: Exchange,
  metrics: GatewayMetrics,
  done: (x: Exchange, err: Error | undefined) => void,
): void {
  x.upstreamHost = upstreamHostOf(x)
  const signer = x.runtime.signerFor.get(x.match!.route)!
  const started = performance.now()
  if (signer.signatureMode !== 'jwt') {
    // HTTP Message Signatures (RFC 9421): every header of the mode from one call.
    signer.signRequest(factsOf(x)).then(
      (signed) => {
        x.signMs = performance.now() - started
        metrics.signing.observe(x.signMs / 1000)
        x.token = signed.token
        x.signedHeaders = signed.headers
        x.nonce = signed.httpSignature?.nonce
        done(x, undefined)
      },
      (err: Error) => {
        metrics.signingErrors.inc()
        done(x, err)
      },
    )
    return
  }
  signer.issueCallback(factsOf(x), (err, token) => {
    if (err) {
      metrics.signingErrors.inc()
      return done(x, err)
    }
    x.signMs = performance.now() - started
    metrics.signing.observe(x.signMs / 1000)
    x.token = token
    done(x, undefined)
  })
}
