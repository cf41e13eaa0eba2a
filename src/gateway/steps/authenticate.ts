import { type Exchange, sendJson } from '../exchange.js'
import { keyAuth } from '../key-auth.js'

/**
 * Step 2, authenticate: Kong's key-auth when the route has it. Sets the consumer (its claims go
 * into the token), the headers to hide and the query without the key; answers 401 itself and
 * returns `false` when the key is missing or unknown.
 *
 * @example
 * ```ts
 * if (!route(x) || !authenticate(x)) return finish(x)
 * ```
 */
export function authenticate(x: Exchange): boolean {
  const auth = x.runtime.keyAuthFor.get(x.match!.route)
  if (!auth) return true
  const result = keyAuth(auth, x.req.headers, x.query, x.runtime.consumersByKey)
  if (!result.ok) {
    x.status = 401
    x.res.setHeader('www-authenticate', 'Key realm="kong"')
    sendJson(x.res, 401, { message: result.message })
    return false
  }
  const c = result.consumer
  x.consumer = { id: c.id, username: c.username, custom_id: c.custom_id }
  x.consumerName = c.username ?? c.id
  x.drop = result.dropHeaders
  x.query = result.query
  return true
}
