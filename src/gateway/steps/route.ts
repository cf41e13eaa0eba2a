import { type Exchange, sendJson } from '../exchange.js'

/**
 * Step 1, route: finds the Kong route (and so the service) for the request. Answers 404 itself
 * and returns `false` when none matches.
 *
 * @example
 * ```ts
 * if (!route(x)) return finish(x)
 * ```
 */
export function route(x: Exchange): boolean {
  const match = x.runtime.router.match(x.method, x.req.headers.host, x.path)
  if (!match) {
    x.status = 404
    sendJson(x.res, 404, { message: 'no Route matched with those values' })
    return false
  }
  x.match = match
  x.serviceName = match.route.service.name
  x.routeName = match.route.name ?? match.route.id
  return true
}
