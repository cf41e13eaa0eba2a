import { queryHash, requestUri } from '../core/binding.js'
import { payloadHash } from '../core/body-digest.js'
import { SigningError } from '../core/errors.js'
import type { JsonValue, ResolvedOptions } from '../options/table.js'
import type { RequestFacts } from './facts.js'

/** The claims of one token. Registered names per RFC 7519 §4.1, the rest as the original. */
export interface UpstreamClaims {
  iss?: string
  sub?: string
  aud?: string
  iat?: number
  nbf?: number
  exp: number
  jti: string
  consumerid?: string
  consumername?: string
  payloadhash?: string
  htm?: string
  htu?: string
  htq?: string
  [claim: string]: JsonValue | undefined
}

/** Per-token values the caller supplies, so that claims building stays a pure function. */
export interface ClaimsContext {
  /** Current time in seconds since the epoch. */
  readonly now: number
  /** Unique token id (a UUID v4 in production). */
  readonly jti: string
}

function headerValue(facts: RequestFacts, name: string): string | undefined {
  const value = facts.headers?.[name.toLowerCase()]
  if (value === undefined) return undefined
  return typeof value === 'string' ? value : value.join(', ')
}

function subject(facts: RequestFacts, from: ResolvedOptions['subject']): string | undefined {
  const consumer = facts.consumer
  if (!consumer) return undefined
  if (from === 'consumer_id') return consumer.id
  if (from === 'consumer_username') return consumer.username
  if (from === 'consumer_custom_id') return consumer.custom_id
  return undefined
}

/**
 * Builds the claims of a token for one request. Pure: the time and the token id come in
 * `context`, so the same input gives the same claims.
 *
 * @example
 * ```ts
 * buildClaims({ service: { name: 'orders' } }, resolveOptions({}), { now: 1700000000, jti: randomUUID() })
 * // { aud: 'orders', iat: 1700000000, exp: 1700000060, jti: '…', payloadhash: '' }
 * ```
 * @throws {SigningError} when `bind_request` is on and the facts lack the method, host or path
 */
export function buildClaims(
  facts: RequestFacts,
  options: ResolvedOptions,
  context: ClaimsContext,
): UpstreamClaims {
  const { now, jti } = context
  // Built member by member, in a fixed order, so tokens read the same way every time.
  const out = {} as UpstreamClaims
  if (options.issuer !== undefined) out.iss = options.issuer
  const sub = options.subject === 'none' ? undefined : subject(facts, options.subject)
  if (sub !== undefined) out.sub = sub
  const aud = options.audience ?? facts.service?.name ?? undefined
  if (aud !== undefined) out.aud = aud
  if (options.include_iat) out.iat = now
  if (options.include_nbf) out.nbf = now
  out.exp = now + options.token_ttl
  out.jti = jti
  const consumer = facts.consumer
  if (consumer) {
    if (consumer.id !== undefined) out.consumerid = consumer.id
    if (consumer.username !== undefined) out.consumername = consumer.username
  }
  if (options.payload_hash) out.payloadhash = payloadHash(facts.body)
  if (options.bind_request) {
    const { method, host, path } = facts
    if (!method || !host || !path) {
      throw new SigningError('bind_request is on but the request method, host or path is unknown')
    }
    out.htm = method.toUpperCase()
    out.htu = requestUri(facts.scheme ?? 'http', host, path)
    out.htq = queryHash(facts.query)
  }
  if (options.headers_to_claims) {
    for (const [header, claim] of Object.entries(options.headers_to_claims)) {
      const value = headerValue(facts, header)
      if (value !== undefined) out[claim] = value
    }
  }
  if (options.claims) {
    for (const [name, value] of Object.entries(options.claims)) out[name] = value
  }
  return out
}
