import type { BodyDigest } from '../core/body-digest.js'

/** A Kong entity reference as the claims need it. */
export interface EntityRef {
  readonly id?: string | undefined
  readonly name?: string | undefined
}

/** The authenticated consumer, as Kong's `kong.client.get_consumer()` returns it. */
export interface ConsumerRef {
  readonly id?: string | undefined
  readonly username?: string | undefined
  readonly custom_id?: string | undefined
}

/**
 * What an edge (Kong plugin, gateway, library caller) knows about one request, in one value.
 * It describes the request **as it is forwarded** to the upstream: the host, path and query the
 * upstream will see, and the digest of exactly the body bytes that are sent.
 *
 * @example
 * ```ts
 * const facts: RequestFacts = {
 *   method: 'POST', scheme: 'http', host: 'orders.internal:8080', path: '/orders', query: 'a=1',
 *   body: digestBytes('{"id":1}'),
 *   service: { name: 'orders' },
 *   consumer: { id: '6d4c…', username: 'alice' },
 *   headers: { 'x-request-id': 'abc' },
 * }
 * ```
 */
export interface RequestFacts {
  readonly method?: string | undefined
  /** `http` or `https`; default `http`. */
  readonly scheme?: string | undefined
  /** Authority as in the Host header: host name, optionally `:port`. */
  readonly host?: string | undefined
  /** Path, percent-encoded as sent, starting with `/`. */
  readonly path?: string | undefined
  /** Raw query string as sent, without the leading `?`; empty or absent for none. */
  readonly query?: string | undefined
  /** Digest of the body bytes forwarded; absent or `null` for a request without a body. */
  readonly body?: BodyDigest | null | undefined
  readonly service?: EntityRef | null | undefined
  readonly route?: EntityRef | null | undefined
  readonly consumer?: ConsumerRef | null | undefined
  /** Request headers, names in lower case; several values as an array. */
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>> | undefined
}
