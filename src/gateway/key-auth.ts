import type { IncomingHttpHeaders } from 'node:http'
import type { ConsumerEntry, KeyAuthConfig } from './config.js'

/** The outcome of key-auth for one request. */
export type KeyAuthResult =
  | {
      readonly ok: true
      readonly consumer: ConsumerEntry
      readonly dropHeaders: string[]
      readonly query: string
    }
  | { readonly ok: false; readonly status: 401; readonly message: string }

/**
 * Kong's key-auth: the key from a header (any of `key_names`) or the query string; a known key
 * identifies the consumer. `hide_credentials` removes the key before proxying.
 */
export function keyAuth(
  config: KeyAuthConfig,
  headers: IncomingHttpHeaders,
  query: string,
  consumers: ReadonlyMap<string, ConsumerEntry>,
): KeyAuthResult {
  let key: string | undefined
  let fromHeader: string | undefined
  let fromQuery: string | undefined
  for (const name of config.key_names) {
    const lower = name.toLowerCase()
    const h = headers[lower]
    if (config.key_in_header && h !== undefined) {
      key = Array.isArray(h) ? h[0] : h
      fromHeader = lower
      break
    }
    if (config.key_in_query) {
      const value = new URLSearchParams(query).get(name)
      if (value !== null) {
        key = value
        fromQuery = name
        break
      }
    }
  }
  if (key === undefined || key === '')
    return { ok: false, status: 401, message: 'No API key found in request' }
  const consumer = consumers.get(key)
  if (!consumer) return { ok: false, status: 401, message: 'Invalid authentication credentials' }
  let nextQuery = query
  if (config.hide_credentials && fromQuery !== undefined) {
    const params = new URLSearchParams(query)
    params.delete(fromQuery)
    nextQuery = params.toString()
  }
  return {
    ok: true,
    consumer,
    dropHeaders: config.hide_credentials && fromHeader ? [fromHeader] : [],
    query: nextQuery,
  }
}
