/**
 * The defaults more than one surface applies, each stated once. The options table, the
 * verifier, the gateway, the Kong plugin and the CLI take them from here.
 * @module
 */

/** Request header that carries the token (the Lua original's `header` default). */
export const DEFAULT_HEADER = 'JWT'

/** Leeway in seconds for `exp`, `nbf`, `iat` and certificate validity when verifying. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30

/**
 * Largest body read for hashing, in bytes (Kong plugin `max_body_size`, middleware
 * `maxBodySize`): 10 MiB. Beyond it the request is refused with 413, never signed or checked
 * against a hash of other bytes.
 */
export const DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024

/**
 * Body bytes the gateway keeps in memory before spooling to a temp file (nginx's and Kong's
 * `client_body_buffer_size` plays the same part): 1 MiB.
 */
export const DEFAULT_BODY_BUFFER_SIZE = 1024 * 1024

/**
 * The port a scheme implies (RFC 3986 §6.2.3): 443 for https, 80 otherwise.
 *
 * @example
 * ```ts
 * defaultPort('https') // 443
 * ```
 */
export function defaultPort(scheme: string): number {
  return scheme.toLowerCase() === 'https' ? 443 : 80
}

/**
 * `host` with `:port` appended unless the port is absent or the scheme's default, as a Host
 * header is written.
 *
 * @example
 * ```ts
 * hostWithPort('http', 'api', 8080) // 'api:8080'
 * hostWithPort('https', 'api', 443) // 'api'
 * ```
 */
export function hostWithPort(scheme: string, host: string, port: number | undefined): string {
  return port === undefined || port === defaultPort(scheme) ? host : `${host}:${port}`
}
