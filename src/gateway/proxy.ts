import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { hostWithPort } from '../core/defaults.js'
import { BodyError, UpstreamJwtError } from '../core/errors.js'
import type { RequestFacts } from '../signer/facts.js'
import { type SpooledBody, spoolBody } from './body-spool.js'
import { clientHeaders, upstreamHeaders } from './forwarding.js'
import { keyAuth } from './key-auth.js'
import type { GatewayMetrics } from './metrics.js'
import type { Runtime } from './runtime.js'
import type { Upstreams } from './upstream.js'

/** Body limits of the proxy listener (Kong's nginx_http_client_* settings). */
export interface BodyLimits {
  /** Bytes kept in memory; larger bodies are spooled to a private temp file. */
  readonly bufferSize: number
  /** Largest body accepted; 0 = no limit (Kong's default). */
  readonly maxSize: number
  readonly tmpDir?: string | undefined
}

/** What the handler needs; `runtime()` is read per request so reloads swap it atomically. */
export interface ProxyContext {
  readonly runtime: () => Runtime
  readonly upstreams: Upstreams
  readonly metrics: GatewayMetrics
  readonly log: Logger
  readonly limits: BodyLimits
  readonly proto: 'http' | 'https'
}

function sendJson(
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

/**
 * The signing step's output onto the forwarded headers: the JWT and/or `Content-Digest`,
 * `Signature-Input`, `Signature`, replacing any a client sent under those names.
 */
function setSignedHeaders(
  headers: Record<string, string | string[]>,
  signed: Readonly<Record<string, string>>,
): void {
  for (const [name, value] of Object.entries(signed)) headers[name.toLowerCase()] = value
}

const round = (ms: number) => Math.round(ms * 100) / 100

/** Set when the client closed the connection before the response was sent. */
class ClientGone extends EventEmitter {
  aborted = false
  trigger(): void {
    this.aborted = true
    this.emit('abort')
  }
}

const MESSAGES: Record<number, string> = {
  400: 'Bad request',
  413: 'Request size limit exceeded',
  500: 'An unexpected error occurred',
}

/**
 * The proxy request handler: route, key-auth, take in the body (hash + spool), sign, forward
 * exactly the hashed bytes, stream the response back. Never forwards unsigned: every failure
 * before the upstream request ends the request here with Kong-style JSON.
 */
export function createProxyHandler(ctx: ProxyContext) {
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    const runtime = ctx.runtime()
    const rawUrl = req.url ?? '/'
    const q = rawUrl.indexOf('?')
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
    let query = q === -1 ? '' : rawUrl.slice(q + 1)
    const method = req.method ?? 'GET'
    // One flat record of fixed shape per request: cheaper to serialise than a grown object.
    let consumerName: string | undefined
    let bodyBytes: number | undefined
    let jti: unknown
    let signMs: number | undefined
    let upstreamMs: number | undefined
    let error: string | undefined
    let status = 0
    let body: SpooledBody | undefined
    // An EventEmitter, which undici accepts as a signal: an AbortController per request costs
    // a measurable share of the proxy's CPU (bench/gateway).
    const abort = new ClientGone()
    res.once('close', () => {
      if (!res.writableFinished) abort.trigger()
    })
    let serviceName = ''
    let routeName = ''
    try {
      const match = runtime.router.match(method, req.headers.host, path)
      if (!match) {
        status = 404
        sendJson(res, 404, { message: 'no Route matched with those values' })
        return
      }
      const { route, upstreamPath } = match
      const service = route.service
      serviceName = service.name
      routeName = route.name ?? route.id

      let consumer: RequestFacts['consumer']
      let drop: string[] = []
      const auth = runtime.keyAuthFor.get(route)
      if (auth) {
        const result = keyAuth(auth, req.headers, query, runtime.consumersByKey)
        if (!result.ok) {
          status = 401
          res.setHeader('www-authenticate', 'Key realm="kong"')
          sendJson(res, 401, { message: result.message })
          return
        }
        consumer = {
          id: result.consumer.id,
          username: result.consumer.username,
          custom_id: result.consumer.custom_id,
        }
        drop = result.dropHeaders
        query = result.query
        consumerName = result.consumer.username ?? result.consumer.id
      }

      const declared = Number(req.headers['content-length'])
      if (ctx.limits.maxSize > 0 && declared > ctx.limits.maxSize) {
        throw new BodyError('ERR_BODY_TOO_LARGE', 'request body exceeds client_max_body_size', {
          limit: ctx.limits.maxSize,
        })
      }
      body = await spoolBody(req, {
        memoryLimit: ctx.limits.bufferSize,
        maxSize: ctx.limits.maxSize > 0 ? ctx.limits.maxSize : Number.POSITIVE_INFINITY,
        tmpDir: ctx.limits.tmpDir,
      })
      ctx.metrics.bytesHashed.inc(body.digest.size)
      if (body.file) ctx.metrics.spooled.inc()
      bodyBytes = body.digest.size

      const signer = runtime.signerFor.get(route)!
      const upstreamHost =
        route.preserve_host && req.headers.host
          ? req.headers.host
          : hostWithPort(service.protocol, service.host, service.port)
      const facts: RequestFacts = {
        method,
        scheme: service.protocol,
        host: upstreamHost,
        path: upstreamPath,
        query,
        body: body.digest.size > 0 ? body.digest : undefined,
        service: { id: service.id, name: service.name },
        route: { id: route.id, name: route.name },
        consumer,
        headers: req.headers,
      }
      const signStart = performance.now()
      let signed: Awaited<ReturnType<typeof signer.signRequest>>
      try {
        signed = await signer.signRequest(facts)
      } catch (err) {
        ctx.metrics.signingErrors.inc()
        throw err
      }
      signMs = performance.now() - signStart
      ctx.metrics.signing.observe(signMs / 1000)
      jti = signed.token?.claims.jti ?? signed.httpSignature?.nonce

      const headers = upstreamHeaders(req, {
        tokenHeader: signer.headerName.toLowerCase(),
        host: upstreamHost,
        clientIp: req.socket.remoteAddress ?? '',
        proto: ctx.proto,
        port: req.socket.localPort ?? 0,
        path,
        drop,
      })
      setSignedHeaders(headers, signed.headers)
      if (body.digest.size > 0 || !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(method)) {
        headers['content-length'] = String(body.digest.size)
      }
      const spooled = body
      const upstreamStart = performance.now()
      await ctx.upstreams.send(
        service,
        {
          method: method as never,
          path: query ? `${upstreamPath}?${query}` : upstreamPath,
          headers,
          body: () => (spooled.digest.size === 0 ? null : (spooled.bytes ?? spooled.stream())),
          signal: abort,
        },
        (response) => {
          upstreamMs = performance.now() - upstreamStart
          ctx.metrics.recordUpstream(serviceName, upstreamMs / 1000)
          // The upstream has answered, so the body was sent whole: the temp file can go now.
          void spooled.dispose()
          status = response.statusCode
          res.writeHead(response.statusCode, clientHeaders(response.headers))
          return res
        },
      )
    } catch (err) {
      if (abort.aborted) {
        status = 499 // the client went away (nginx's code); nothing to answer
        error = 'client closed the connection'
      } else if (err instanceof UpstreamJwtError) {
        status = err.status
        error = `${err.code}: ${err.message}`
        const message =
          err.status >= 500 && err.status < 502
            ? MESSAGES[500]
            : err.status in MESSAGES && err.status !== 401
              ? MESSAGES[err.status]!
              : err.message
        sendJson(res, err.status, { message, code: err.code }, err.status === 413)
      } else {
        status = 500
        error = `unexpected: ${(err as Error)?.message ?? String(err)}`
        sendJson(res, 500, { message: MESSAGES[500] })
      }
    } finally {
      await body?.dispose()
      const total = performance.now() - started
      ctx.metrics.recordRequest(serviceName, routeName, status, total / 1000)
      const entry = {
        method,
        path,
        route: routeName || undefined,
        service: serviceName || undefined,
        consumer: consumerName,
        status,
        latency_ms: round(total),
        signing_ms: signMs === undefined ? undefined : round(signMs),
        upstream_ms: upstreamMs === undefined ? undefined : round(upstreamMs),
        body_bytes: bodyBytes,
        jti,
        error,
      }
      if (status >= 500) ctx.log.error(entry, 'request')
      else ctx.log.info(entry, 'request')
    }
  }
}
