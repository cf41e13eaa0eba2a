import type { IncomingMessage } from 'node:http'

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
export function hopByHop(connection: string | readonly string[] | undefined): ReadonlySet<string> {
  if (connection === undefined) return HOP_BY_HOP
  const listed = typeof connection === 'string' ? connection : connection.join(',')
  // What most clients and upstreams send (nginx, Node, browsers on HTTP/1.1): nothing to add.
  if (listed.length === 10 && listed.toLowerCase() === 'keep-alive') return HOP_BY_HOP
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

// Set by the gateway itself, as Kong sets them: a client's own copies are replaced.
const SET_BY_GATEWAY: ReadonlySet<string> = new Set([
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-path',
  'x-real-ip',
])

/**
 * The headers sent upstream, as undici's flat `[name, value, …]` list: Host, the client's
 * headers less hop-by-hop ones and any client-supplied token, Signature, Signature-Input or
 * Content-Digest header (never passed through), and X-Forwarded-For/-Proto/-Host/-Port/-Path
 * and X-Real-IP as Kong sets them. The caller appends the token and Content-Length.
 */
export function upstreamHeaders(req: IncomingMessage, ctx: ForwardingContext): string[] {
  const headers = req.headers
  const hop = hopByHop(headers.connection)
  const extra = ctx.drop ?? []
  const out: string[] = ['host', ctx.host]
  for (const name in headers) {
    const value = headers[name]
    if (
      value === undefined ||
      hop.has(name) ||
      name === ctx.tokenHeader ||
      SET_BY_GATEWAY.has(name) ||
      PROOF_HEADERS.has(name)
    )
      continue
    if (extra.length > 0 && extra.includes(name)) continue
    if (typeof value === 'string') out.push(name, value)
    else for (const v of value) out.push(name, v)
  }
  const xff = headers['x-forwarded-for']
  out.push(
    'x-forwarded-for',
    xff ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${ctx.clientIp}` : ctx.clientIp,
    'x-forwarded-proto',
    ctx.proto,
    'x-forwarded-host',
    withoutPort(headers.host ?? ''),
    'x-forwarded-port',
    String(ctx.port),
    'x-forwarded-path',
    ctx.path,
    'x-real-ip',
    ctx.clientIp,
  )
  return out
}

/**
 * Response headers from the upstream (undici's raw `[name, value, …]` buffers), less
 * hop-by-hop ones, as strings for `res.writeHead`. Bytes are kept as sent (latin1 both ways).
 */
export function responseHeaderList(raw: readonly Buffer[]): string[] {
  const out: string[] = []
  let connection: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1')
    const value = raw[i + 1]!.toString('latin1')
    if (name.length === 10 && name.toLowerCase() === 'connection')
      connection = connection === undefined ? value : `${connection},${value}`
    out.push(name, value)
  }
  const hop = hopByHop(connection)
  let kept = 0
  for (let i = 0; i < out.length; i += 2) {
    const lower = out[i]!.toLowerCase()
    // The body is streamed unchanged, so its content-length stays true.
    if (lower !== 'content-length' && hop.has(lower)) continue
    out[kept++] = out[i]!
    out[kept++] = out[i + 1]!
  }
  out.length = kept
  return out
}
