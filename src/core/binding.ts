import { createHash } from 'node:crypto'
import { defaultPort } from './defaults.js'

/**
 * The `htu` value for a request (RFC 9449 §4.2): scheme, authority and path, without query and
 * fragment. Scheme and host are lower-cased and a default port dropped (RFC 3986 §6.2.2–6.2.3),
 * so that signer and verifier agree however the Host header was written.
 *
 * @example
 * ```ts
 * requestUri('HTTP', 'Api.Example:80', '/a/b?c=1') // 'http://api.example/a/b'
 * ```
 */
export function requestUri(scheme: string, host: string, path: string): string {
  const s = scheme.toLowerCase()
  let authority = host.toLowerCase()
  const colon = authority.lastIndexOf(':')
  if (
    colon > authority.lastIndexOf(']') &&
    (s === 'http' || s === 'https') &&
    authority.slice(colon + 1) === String(defaultPort(s))
  ) {
    authority = authority.slice(0, colon)
  }
  let p = path || '/'
  const cut = p.search(/[?#]/)
  if (cut !== -1) p = p.slice(0, cut)
  return `${s}://${authority}${p}`
}

/**
 * The `htq` value: base64url SHA-256 of the raw query string (without `?`), in the style of
 * RFC 9449's `ath`. An absent query hashes as the empty string.
 *
 * @example
 * ```ts
 * queryHash('a=1&b=2')
 * ```
 */
export function queryHash(query: string | undefined): string {
  return createHash('sha256')
    .update(query ?? '')
    .digest('base64url')
}
