/**
 * The request as a Kong-style gateway forwards it to the upstream, and the URI that names it.
 *
 * Kong decides the upstream path from the matched route and the service (`strip_path`,
 * `path_handling`, the service `path`) and the upstream `Host` from the service (or the client's
 * `Host` with `preserve_host`). The standalone gateway routes with {@link kongUpstreamPath} and
 * {@link kongUpstreamAuthority}; the Kong plugin reads the values Kong itself computed. Both hand
 * the parts to {@link forwardedUri}, the one function that turns them into a URI: without the
 * query it is the `htu` claim (RFC 9449 §4.2), with it RFC 9421's `@target-uri` (§2.2.2).
 * Part of core: signer, verifier, Kong plugin and gateway all stand on it.
 * @module
 */

import { defaultPort, hostWithPort } from './defaults.js'

/** Route field `path_handling`: `v0` is Kong's default; `v1` is deprecated (traditional router only). */
export type PathHandling = 'v0' | 'v1'

/** What Kong's router knows when it builds the upstream path. */
export interface UpstreamPathRule {
  /** The service's `path`; Kong uses `/` when the service has none. */
  readonly servicePath?: string | null | undefined
  /** The request path the route matched, without the query (Kong normalises it first). */
  readonly requestPath: string
  /**
   * The leading part of `requestPath` the route's path matched: the prefix, or the text a regex
   * path matched from the start. Absent when the route has no `paths`.
   */
  readonly matched?: string | undefined
  /** Route field `strip_path` (Kong's default: true). */
  readonly stripPath: boolean
  /** Route field `path_handling` (default `v0`). */
  readonly pathHandling?: PathHandling | undefined
}

/** The stripped remainder, with a leading `.` or `..` segment dropped, as Kong's router does. */
function postfixOf(requestPath: string, prefix: string): string {
  const rest = requestPath.slice(prefix.length)
  if (rest === '.' || rest === '..') return ''
  if (rest.startsWith('./')) return rest.slice(2)
  if (rest.startsWith('../')) return rest.slice(3)
  return rest
}

/**
 * The path Kong sends upstream for a matched route: the service path joined with the request
 * path, the matched part removed with `strip_path`, following `path_handling` `v0` (Kong's
 * default; e.g. a request for exactly the route path keeps or drops a trailing slash as the
 * request did) or the deprecated `v1`. The result is before Kong's percent-escaping and without
 * the query.
 *
 * @example
 * ```ts
 * kongUpstreamPath({ servicePath: '/base', requestPath: '/orders/1', matched: '/orders', stripPath: true })
 * // '/base/1'
 * kongUpstreamPath({ servicePath: '/base', requestPath: '/orders/1', matched: '/orders', stripPath: false })
 * // '/base/orders/1'
 * ```
 */
export function kongUpstreamPath(rule: UpstreamPathRule): string {
  const base = rule.servicePath || '/'
  const req = rule.requestPath || '/'
  const strip = rule.stripPath
  const postfix = postfixOf(req, strip && rule.matched ? rule.matched : '/')
  const baseSlash = base.endsWith('/')
  if (rule.pathHandling === 'v1') {
    if (!strip) return base + req.slice(1)
    return baseSlash && postfix.startsWith('/') ? base.slice(0, -1) + postfix : base + postfix
  }
  if (baseSlash) {
    if (!strip) return base + req.slice(1)
    if (postfix === '') {
      if (base === '/' || req.endsWith('/')) return base
      return base.slice(0, -1)
    }
    return postfix.startsWith('/') ? base.slice(0, -1) + postfix : base + postfix
  }
  if (!strip) return req === '/' ? base : base + req
  if (postfix === '') return req.length > 1 && req.endsWith('/') ? `${base}/` : base
  return postfix.startsWith('/') ? base + postfix : `${base}/${postfix}`
}

/** The upstream side of a Kong service. */
export interface ServiceAddress {
  /** `http` or `https` (Kong also knows `grpc`, `grpcs`). */
  readonly protocol?: string | null | undefined
  readonly host: string
  /** Default: 80, or 443 for `https`/`grpcs`. */
  readonly port?: number | null | undefined
}

const TLS_PROTOCOLS = new Set(['https', 'grpcs'])

/**
 * The `Host` Kong sends upstream: the client's `Host` when the route has `preserve_host` (pass
 * it as `preservedHost`), else the service host with its port unless that is the protocol's
 * default (80 for http/grpc, 443 for https/grpcs). With a Kong Upstream entity (load balancer)
 * Kong uses the chosen target's name, or the upstream's `host_header`, instead of the service
 * host; that is decided after the access phase.
 *
 * @example
 * ```ts
 * kongUpstreamAuthority({ protocol: 'http', host: 'orders.internal', port: 8080 }) // 'orders.internal:8080'
 * kongUpstreamAuthority({ protocol: 'https', host: 'orders.internal', port: 443 }) // 'orders.internal'
 * kongUpstreamAuthority({ protocol: 'http', host: 'orders.internal' }, 'api.example.com') // 'api.example.com'
 * ```
 */
export function kongUpstreamAuthority(
  service: ServiceAddress,
  preservedHost?: string | null | undefined,
): string {
  if (preservedHost) return preservedHost
  // grpcs counts as https here: Kong leaves out 443 for both.
  const scheme = TLS_PROTOCOLS.has(service.protocol ?? 'http') ? 'https' : 'http'
  return hostWithPort(scheme, service.host, service.port ?? undefined)
}

/** The parts of a request as forwarded that make its URI. */
export interface ForwardedTarget {
  /** `http` or `https`; default `http`. */
  readonly scheme?: string | undefined
  /** The authority as in the `Host` header sent upstream: host name, optionally `:port`. */
  readonly host: string
  /** The path as sent, percent-encoded, starting with `/`; anything from `?` or `#` is ignored. */
  readonly path?: string | undefined
  /** The raw query as sent, without `?`; empty or absent for none. */
  readonly query?: string | undefined
}

/**
 * The URI of a request as forwarded to the upstream: what the `htu` claim (without the query,
 * RFC 9449 §4.2) and RFC 9421's `@target-uri` (with it, §2.2.2) sign, and what the verifier
 * rebuilds from the request it receives. Scheme and host are lower-cased and a default port is
 * dropped (RFC 3986 §6.2.2.1, §6.2.3) so both sides agree however `Host` was written; the path
 * and query stay byte for byte as sent (no decoding, no dot-segment removal). An empty query is
 * written as none: Kong's PDK does not tell `/a?` from `/a`.
 *
 * @example
 * ```ts
 * forwardedUri({ scheme: 'HTTP', host: 'Orders.Internal:80', path: '/v1/a%2Fb', query: 'x=%20' })
 * // 'http://orders.internal/v1/a%2Fb?x=%20'
 * forwardedUri({ scheme: 'http', host: 'orders.internal', path: '/v1', query: 'x=1' }, { query: false })
 * // 'http://orders.internal/v1'
 * ```
 */
export function forwardedUri(
  target: ForwardedTarget,
  options: { readonly query?: boolean } = {},
): string {
  const scheme = (target.scheme || 'http').toLowerCase()
  let authority = target.host.toLowerCase()
  const colon = authority.lastIndexOf(':')
  if (
    colon > authority.lastIndexOf(']') &&
    (scheme === 'http' || scheme === 'https') &&
    authority.slice(colon + 1) === String(defaultPort(scheme))
  ) {
    authority = authority.slice(0, colon)
  }
  let path = target.path || '/'
  const cut = path.search(/[?#]/)
  if (cut !== -1) path = path.slice(0, cut)
  if (path === '') path = '/'
  const query = options.query === false ? '' : (target.query ?? '')
  return query === ''
    ? `${scheme}://${authority}${path}`
    : `${scheme}://${authority}${path}?${query}`
}

/**
 * Splits an absolute request URL into the parts {@link forwardedUri} takes, raw: no decoding and
 * no dot-segment removal (WHATWG `URL` would normalise both, and the signer signed the bytes
 * as sent). The fragment is dropped. Returns `undefined` when the URL is not absolute.
 *
 * @example
 * ```ts
 * forwardedTarget('http://Orders:80/a%2Fb?x=1') // { scheme: 'http', host: 'Orders:80', path: '/a%2Fb', query: 'x=1' }
 * ```
 */
export function forwardedTarget(url: string): Required<ForwardedTarget> | undefined {
  const origin = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(url)
  if (!origin) return undefined
  const rest = url.slice(origin[0].length).split('#')[0]!
  const q = rest.indexOf('?')
  return {
    scheme: origin[1]!,
    host: origin[2]!,
    path: q === -1 ? rest : rest.slice(0, q),
    query: q === -1 ? '' : rest.slice(q + 1),
  }
}
