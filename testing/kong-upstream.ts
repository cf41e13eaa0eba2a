/**
 * What Kong has computed about the upstream request by the time plugins run, modelled on Kong's
 * router and `runloop/handler.lua` (access `before`/`after`) and `kong/tools/uri.lua`, so the
 * test Kong side answers `kong.nginx.get_var` as Kong would and can forward the request as Kong
 * does:
 * - the router matches the normalised request path (percent-decoding of all but reserved
 *   characters, dot segments removed, slashes merged) and builds the upstream path from the
 *   service path and the route (`strip_path`, `path_handling`); `$upstream_uri` is that path
 *   re-escaped, **without** the query;
 * - `$upstream_host` is the client's Host with `preserve_host`, else empty (the balancer sets the
 *   service host after the access phase);
 * - after the access phase Kong appends `?` and `$args` when the request had a query or ended in
 *   `?`, and sends Host: `$upstream_host`, or the service host with its port unless default.
 */
import { kongUpstreamAuthority, kongUpstreamPath } from '../src/core/forwarded.js'

const RESERVED = new Set("!*'();:@&=+$,/?%#[]")

/** Kong's `normalize(uri, true)`: on a latin1 string (one char per byte). */
export function kongNormalize(uri: string): string {
  if (uri === '' || uri === '/') return uri
  let rest = uri.replace(/%([0-9a-f]{2})/gi, (whole, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16))
    return RESERVED.has(c) ? whole.toUpperCase() : c
  })
  const out: string[] = []
  while (rest.length > 0) {
    if (rest === '/.') rest = '/'
    else if (rest === '/..') {
      rest = '/'
      out.pop()
    } else if (rest === '.' || rest === '..') rest = ''
    else if (rest.startsWith('../')) rest = rest.slice(3)
    else if (rest.startsWith('./')) rest = rest.slice(2)
    else if (rest.startsWith('/./')) rest = rest.slice(2)
    else if (rest.startsWith('/../')) {
      rest = rest.slice(3)
      out.pop()
    } else if (rest.startsWith('//')) rest = rest.slice(1)
    else {
      const i = rest.indexOf('/', 1)
      out.push(i === -1 ? rest : rest.slice(0, i))
      rest = i === -1 ? '' : rest.slice(i)
    }
  }
  return out.join('')
}

/** Kong's `escape`: percent-encodes every byte outside its safe set. */
export function kongEscape(uri: string): string {
  return uri.replace(
    /[^!#$&'()*+,/:;=?@[\]A-Za-z0-9\-_.~%]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  )
}

export interface KongServiceFixture {
  id: string
  name: string
  protocol?: 'http' | 'https'
  host?: string
  port?: number
  path?: string
}

export interface KongRouteFixture {
  id?: string
  name?: string
  paths?: string[]
  strip_path?: boolean
  preserve_host?: boolean
  path_handling?: 'v0' | 'v1'
}

/**
 * What plugins of higher priority did before this one, through the PDK Kong has
 * (`kong.service.request.set_path`, `set_raw_query`, `set_header('host', …)`), e.g.
 * request-transformer (801) with `replace.uri`.
 */
export interface EarlierPlugins {
  path?: string
  query?: string
  host?: string
}

/** The nginx variables a plugin can read in the access phase, and what Kong then forwards. */
export interface KongUpstreamState {
  readonly vars: Readonly<Record<string, string>>
  /** The route entity as `kong.router.get_route()` returns it. */
  readonly route: Required<Pick<KongRouteFixture, 'paths' | 'strip_path' | 'preserve_host'>> &
    KongRouteFixture
  /** What the upstream receives, when there is a service with a host. */
  readonly forwarded?: {
    readonly scheme: string
    readonly host: string
    readonly port: number
    readonly hostHeader: string
    readonly method: string
    /** The request target: `$upstream_uri` with the query Kong appends after the access phase. */
    readonly target: string
  }
}

function matchedPart(paths: readonly string[], path: string): string | undefined {
  for (const p of paths) {
    if (!p.startsWith('~')) continue
    const m = new RegExp(`^(?:${p.slice(1)})`).exec(path)
    if (m) return m[0]
  }
  const prefixes = paths.filter((p) => !p.startsWith('~') && path.startsWith(p))
  if (prefixes.length === 0) throw new Error(`test fixture: no route path matches ${path}`)
  return prefixes.reduce((a, b) => (b.length > a.length ? b : a))
}

/** Kong's state for a request `target` (`/path?query`) on `route` → `service`. */
export function kongUpstreamState(
  method: string,
  target: string,
  headers: Readonly<Record<string, string>>,
  service: KongServiceFixture | undefined,
  routeFixture: KongRouteFixture = {},
  earlier: EarlierPlugins = {},
): KongUpstreamState {
  const route = { paths: ['/'], strip_path: true, preserve_host: false, ...routeFixture }
  const q = target.indexOf('?')
  const rawPath = q === -1 ? target : target.slice(0, q)
  const args = q === -1 ? '' : target.slice(q + 1)
  const hostHeader = Object.entries(headers).find(([k]) => k.toLowerCase() === 'host')?.[1] ?? ''
  const path = kongNormalize(rawPath)
  const vars: Record<string, string> = {
    request_method: method,
    request_uri: target,
    uri: path,
    args,
    is_args: args === '' ? '' : '?',
    upstream_uri: '',
    upstream_host: '',
    upstream_scheme: '',
  }
  if (!service) return { vars, route }
  const protocol = service.protocol ?? 'http'
  const upstreamPath = kongUpstreamPath({
    servicePath: service.path,
    requestPath: path,
    matched: route.paths.length > 0 ? matchedPart(route.paths, path) : undefined,
    stripPath: route.strip_path,
    pathHandling: route.path_handling,
  })
  vars.upstream_uri = kongEscape(upstreamPath)
  vars.upstream_scheme = protocol
  if (route.preserve_host) vars.upstream_host = hostHeader
  // set_path escapes like the router; set_raw_query sets $args; set_header('host') sets
  // $upstream_host, which Kong then sends as the Host.
  if (earlier.path !== undefined) vars.upstream_uri = kongEscape(earlier.path)
  if (earlier.query !== undefined) {
    vars.args = earlier.query
    vars.is_args = earlier.query === '' ? '' : '?'
  }
  if (earlier.host !== undefined) vars.upstream_host = earlier.host
  if (!service.host) return { vars, route }
  const port = service.port ?? (protocol === 'https' ? 443 : 80)
  const withQuery = vars.is_args === '?' || target.endsWith('?')
  return {
    vars,
    route,
    forwarded: {
      scheme: protocol,
      host: service.host,
      port,
      hostHeader: kongUpstreamAuthority({ protocol, host: service.host, port }, vars.upstream_host),
      method,
      target: withQuery ? `${vars.upstream_uri}?${vars.args}` : vars.upstream_uri,
    },
  }
}
