import { createHash } from 'node:crypto'
import { forwardedUri } from './forwarded.js'

/**
 * The `htu` value for a request (RFC 9449 §4.2): scheme, authority and path, without query and
 * fragment — {@link forwardedUri} without the query. Scheme and host are lower-cased and a
 * default port dropped (RFC 3986 §6.2.2–6.2.3), so that signer and verifier agree however the
 * Host header was written.
 *
 * @example
 * ```ts
 * requestUri('HTTP', 'Api.Example:80', '/a/b?c=1') // 'http://api.example/a/b'
 * ```
 */
export function requestUri(scheme: string, host: string, path: string): string {
  return forwardedUri({ scheme, host, path }, { query: false })
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
