import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ConsumerRef } from '../signer/facts.js'
import type { IssuedToken } from '../signer/signer.js'
import type { SpooledBody } from './body-spool.js'
import type { RouteMatch } from './router.js'
import type { Runtime } from './runtime.js'
import type { UpstreamCall } from './upstream.js'

const NONE: readonly string[] = []

/**
 * One request on its way through the gateway's steps (route, authenticate, take in the body,
 * sign, forward, log): what each step learns, in one object of fixed shape, so the steps are
 * plain functions and the access log is one record.
 */
export class Exchange {
  readonly started = performance.now()
  readonly method: string
  /** The request path as the client sent it, without the query. */
  readonly path: string
  /** The query string (without `?`); key-auth may remove its key. */
  query: string
  match: RouteMatch | undefined = undefined
  serviceName = ''
  routeName = ''
  consumer: ConsumerRef | undefined = undefined
  consumerName: string | undefined = undefined
  /** Request headers not to forward (key-auth's hide_credentials). */
  drop: readonly string[] = NONE
  body: SpooledBody | undefined = undefined
  /** The Host header sent upstream. */
  upstreamHost = ''
  token: IssuedToken | undefined = undefined
  /**
   * Every header of `signature_mode` http-signature or both (the JWT, `Content-Digest`,
   * `Signature-Input`, `Signature`); unset in jwt mode, where `token` is the one header.
   */
  signedHeaders: Readonly<Record<string, string>> | undefined = undefined
  /** The HTTP Message Signature's nonce (the `jti` in both mode), for the access log. */
  nonce: string | undefined = undefined
  signMs: number | undefined = undefined
  upstreamStarted = 0
  upstreamMs: number | undefined = undefined
  /** Status logged and counted (499: the client went away; nginx's code). */
  status = 0
  error: string | undefined = undefined
  /** The upstream `host:port` when the upstream failed. */
  upstream: string | undefined = undefined
  /** The client closed the connection before the response was sent whole. */
  aborted = false
  /** The client's HTTP framing was broken (node's parser code), answered 400. */
  malformed: string | undefined = undefined

  readonly runtime: Runtime
  readonly req: IncomingMessage
  readonly res: ServerResponse

  /** The request in flight upstream, once forwarded. */
  upstreamCall: UpstreamCall | undefined = undefined

  constructor(runtime: Runtime, req: IncomingMessage, res: ServerResponse) {
    this.runtime = runtime
    this.req = req
    this.res = res
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    this.path = q === -1 ? url : url.slice(0, q)
    this.query = q === -1 ? '' : url.slice(q + 1)
    this.method = req.method ?? 'GET'
  }

  /** The client response closed early: stop the upstream request, if one is in flight. */
  clientGone(): void {
    if (this.aborted) return
    this.aborted = true
    this.upstreamCall?.cancel()
  }
}

/** Answers with Kong-style JSON; after the head was sent there is nothing to say, so it cuts. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: Record<string, unknown>,
  close = false,
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  })
  res.end(text)
}
