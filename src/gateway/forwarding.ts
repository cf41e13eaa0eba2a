import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

// RFC 9110 §7.6.1: connection-specific fields end at this hop; so does the client's Expect.
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'content-length',
])

// The RFC 9421/9530 headers a signature mode sets: a client's copies are never forwarded, also
// in `jwt` mode, so an upstream never takes them for the gateway's.
const PROOF_HEADERS: ReadonlySet<string> = new Set([
  'signature',
  'signature-input',
  'content-digest',
])

/**
 * Header names a message names in its Connection header, plus the standard hop-by-hop ones.
 * Returns the shared standard set when Connection names nothing else (the common case).
 */
export function hopByHop(
  headers: IncomingHttpHeaders | Record<string, unknown>,
): ReadonlySet<string> {
  const connection = headers.connection
  if (connection === undefined) return HOP_BY_HOP
  const listed = Array.isArray(connection)
    ? connection.join(',')
    : typeof connection === 'string'
      ? connection
      : ''
  let names: Set<string> | undefined
  for (const name of listed.split(',')) {
    const n = name.trim().toLowerCase()
    if (n && !HOP_BY_HOP.has(n)) {
      names ??= new Set(HOP_BY_HOP)
      names.add(n)
    }
  }
  return names ?? HOP_BY_HOP
}

/** `host:port` → `host` (a bracketed IPv6 address keeps its brackets); no regular expression
 * on the request path. */
function withoutPort(host: string): string {
  const colon = host.lastIndexOf(':')
  if (colon === -1 || colon < host.lastIndexOf(']')) return host
  for (let i = colon + 1; i < host.length; i++) {
    const c = host.charCodeAt(i)
    if (c < 48 || c > 57) return host
  }
  return colon + 1 < host.length ? host.slice(0, colon) : host
}

/** What the gateway knows about the client connection, for the X-Forwarded-* headers. */
export interface ForwardingContext {
  /** The token header's name (lower case): any client-supplied one is dropped. */
  readonly tokenHeader: string
  /** Host header for the upstream. */
  readonly host: string
  readonly clientIp: string
  readonly proto: 'http' | 'https'
  readonly port: number
  /** The request path as the client sent it. */
  readonly path: string
  /** Further headers to drop (key-auth with hide_credentials). */
  readonly drop?: readonly string[]
}

/**
 * The headers sent upstream: the client's, less hop-by-hop ones and any client-supplied token,
 * Signature, Signature-Input or Content-Digest header (never passed through), with Host set
 * and X-Forwarded-For/-Proto/-Host/-Port/-Path and X-Real-IP added as Kong adds them.
 */
export function upstreamHeaders(
  req: IncomingMessage,
  ctx: ForwardingContext,
): Record<string, string | string[]> {
  const hop = hopByHop(req.headers)
  const extra = ctx.drop ?? []
  const out: Record<string, string | string[]> = {}
  for (const name in req.headers) {
    const value = req.headers[name]
    if (
      value === undefined ||
      hop.has(name) ||
      name === ctx.tokenHeader ||
      name === 'host' ||
      PROOF_HEADERS.has(name)
    )
      continue
    if (extra.length > 0 && extra.includes(name)) continue
    out[name] = value
  }
  const xff = req.headers['x-forwarded-for']
  out.host = ctx.host
  out['x-forwarded-for'] = xff
    ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${ctx.clientIp}`
    : ctx.clientIp
  out['x-forwarded-proto'] = ctx.proto
  out['x-forwarded-host'] = withoutPort(req.headers.host ?? '')
  out['x-forwarded-port'] = String(ctx.port)
  out['x-forwarded-path'] = ctx.path
  out['x-real-ip'] = ctx.clientIp
  return out
}

/** Response headers from the upstream, less hop-by-hop ones, for the client. */
export function clientHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const hop = hopByHop(headers)
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const value = headers[name]
    // The body is streamed unchanged, so its content-length stays true.
    if (value !== undefined && (name === 'content-length' || !hop.has(name))) out[name] = value
  }
  return out
}
