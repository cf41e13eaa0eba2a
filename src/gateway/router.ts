import { kongUpstreamPath } from '../core/forwarded.js'
import type { GatewayConfig, RouteEntry } from './config.js'

/** A route that matched, and the upstream path it maps the request to. */
export interface RouteMatch {
  readonly route: RouteEntry
  /** Path for the upstream request, by Kong's `strip_path`/`path_handling` rules (without query). */
  readonly upstreamPath: string
}

interface CompiledPath {
  readonly regex: RegExp | undefined
  readonly prefix: string | undefined
  readonly length: number
}

interface Compiled {
  readonly route: RouteEntry
  readonly order: number
  readonly paths: readonly CompiledPath[]
  readonly hosts: readonly string[]
  /** Kong sorts routes by how many kinds of constraint they have (hosts, methods, paths). */
  readonly weight: number
}

function hostMatches(patterns: readonly string[], host: string, hostWithPort: string): boolean {
  for (const p of patterns) {
    if (p === host || p === hostWithPort) return true
    if (p.startsWith('*.') && host.endsWith(p.slice(1)) && host.length > p.length - 1) return true
    if (p.endsWith('.*') && host.startsWith(p.slice(0, -1))) return true
  }
  return false
}

/**
 * Kong route matching for the supported fields. A route must satisfy all of its constraints
 * (hosts, incl. `*.example.com` and `example.*` wildcards; methods; paths). Among matches: more
 * kinds of constraint first; then regex paths (`~…`, by `regex_priority`, then declaration
 * order) before prefix paths; prefix paths longest first.
 */
export class Router {
  #routes: Compiled[]

  constructor(config: GatewayConfig) {
    this.#routes = config.routes.map((route, order) => ({
      route,
      order,
      hosts: route.hosts,
      paths: route.paths.map((p) =>
        p.startsWith('~')
          ? { regex: new RegExp(`^(?:${p.slice(1)})`), prefix: undefined, length: p.length }
          : { regex: undefined, prefix: p, length: p.length },
      ),
      weight:
        (route.hosts.length > 0 ? 1 : 0) +
        (route.methods.length > 0 ? 1 : 0) +
        (route.paths.length > 0 ? 1 : 0),
    }))
  }

  /**
   * Finds the route for a request, or undefined (the gateway answers 404).
   *
   * @example
   * ```ts
   * router.match('GET', 'api.example.com:8000', '/orders/42')
   * ```
   */
  match(method: string, hostHeader: string | undefined, path: string): RouteMatch | undefined {
    const hostWithPort = (hostHeader ?? '').toLowerCase()
    const host = hostWithPort.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
    let best:
      | { c: Compiled; matched: string; regex: boolean; priority: number; length: number }
      | undefined
    for (const c of this.#routes) {
      if (c.route.methods.length > 0 && !c.route.methods.includes(method)) continue
      if (c.hosts.length > 0 && !hostMatches(c.hosts, host, hostWithPort)) continue
      let matched: string | undefined
      let regex = false
      let length = 0
      if (c.paths.length === 0) matched = ''
      for (const p of c.paths) {
        if (p.regex) {
          const m = p.regex.exec(path)
          if (m && (matched === undefined || !regex)) {
            matched = m[0]
            regex = true
            length = p.length
          }
        } else if (
          p.prefix !== undefined &&
          path.startsWith(p.prefix) &&
          !regex &&
          (matched === undefined || p.length > length)
        ) {
          matched = p.prefix
          length = p.length
        }
      }
      if (matched === undefined) continue
      const candidate = { c, matched, regex, priority: c.route.regex_priority, length }
      if (!best || better(candidate, best)) best = candidate
    }
    if (!best) return undefined
    const { route } = best.c
    return {
      route,
      upstreamPath: kongUpstreamPath({
        servicePath: route.service.path,
        requestPath: path,
        matched: route.paths.length > 0 ? best.matched : undefined,
        stripPath: route.strip_path,
        pathHandling: route.path_handling,
      }),
    }
  }
}

type Candidate = { c: Compiled; regex: boolean; priority: number; length: number }

function better(a: Candidate, b: Candidate): boolean {
  if (a.c.weight !== b.c.weight) return a.c.weight > b.c.weight
  if (a.regex !== b.regex) return a.regex
  if (a.regex) return a.priority !== b.priority ? a.priority > b.priority : a.c.order < b.c.order
  return a.length !== b.length ? a.length > b.length : a.c.order < b.c.order
}
