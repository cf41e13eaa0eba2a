import type { Readable, Writable } from 'node:stream'
import { type Dispatcher, Pool } from 'undici'
import { UpstreamError } from '../core/errors.js'
import type { ServiceEntry } from './config.js'
import { tlsFailureCause, upstreamConnect } from './upstream-tls.js'

export { UpstreamError }

const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
])
// Failures before the request reached the upstream: safe to try again (Kong's `retries`).
const RETRYABLE: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
])
// Failures only the upstream causes, even when the client response was closed meanwhile (undici
// destroys the client response when the upstream breaks off after the head).
const UPSTREAM_CODES: ReadonlySet<string> = new Set([
  ...TIMEOUT_CODES,
  ...RETRYABLE,
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
  'ENOTFOUND',
  'ECONNRESET',
  'UND_ERR_INFO',
])
// The client response ended the exchange (it closed, or writing to it failed).
const CLIENT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_ABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'EPIPE',
])

function codeOf(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } }
  return e?.code ?? e?.cause?.code ?? ''
}

/** `host:port` of a service, as in logs. */
export function upstreamAddress(service: ServiceEntry): string {
  return `${service.host.includes(':') ? `[${service.host}]` : service.host}:${service.port}`
}

/**
 * What a failed upstream exchange was: the upstream's failure (502/504, whether or not the
 * response head had been passed on), or `undefined` when the client ended it (gone away).
 */
export function classifyUpstreamFailure(
  err: unknown,
  service: ServiceEntry,
  context: { afterHead: boolean; clientGone: boolean },
): UpstreamError | undefined {
  const code = codeOf(err)
  // TLS to the upstream failed (issue 14): the cause in words, for the log.
  const tlsCause = tlsFailureCause(err)
  if (tlsCause !== undefined && !context.afterHead)
    return new UpstreamError(
      'ERR_UPSTREAM_TLS',
      'An invalid response was received from the upstream server',
      { cause: err, upstream: upstreamAddress(service), reason: tlsCause },
    )
  const upstreams = UPSTREAM_CODES.has(code) || code.startsWith('HPE_')
  if (context.clientGone && !upstreams) return undefined
  if (CLIENT_CODES.has(code) && context.afterHead) return undefined
  const options = {
    cause: err,
    upstream: upstreamAddress(service),
    reason: code || ((err as Error)?.message ?? 'unknown'),
    afterHead: context.afterHead,
  }
  return TIMEOUT_CODES.has(code)
    ? new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'The upstream server is timing out', options)
    : new UpstreamError(
        'ERR_UPSTREAM_UNREACHABLE',
        'An invalid response was received from the upstream server',
        options,
      )
}

/** A request for `Upstreams.send`: undici's options, with a body made fresh per attempt. */
export type UpstreamRequest = Omit<Dispatcher.RequestOptions, 'origin' | 'body'> & {
  body?: Dispatcher.RequestOptions['body']
}

// A reload that changes the address or the TLS material gets a pool of its own. Service
// entries are immutable, so the key is made once per entry, not per request.
const poolKeys = new WeakMap<ServiceEntry, string>()
function poolKey(service: ServiceEntry): string {
  let key = poolKeys.get(service)
  if (key === undefined) {
    key = `${service.id}|${service.protocol}://${upstreamAddress(service)}|${service.tls?.fingerprint ?? ''}`
    poolKeys.set(service, key)
  }
  return key
}

/** Keep-alive connection pools, one per service. */
export class Upstreams {
  #pools = new Map<string, Pool>()

  pool(service: ServiceEntry): Pool {
    const key = poolKey(service)
    let pool = this.#pools.get(key)
    if (!pool) {
      pool = new Pool(`${service.protocol}://${upstreamAddress(service)}`, {
        connections: 256,
        keepAliveTimeout: 60_000,
        connect: upstreamConnect(service.connect_timeout, service.tls),
        headersTimeout: service.read_timeout,
        bodyTimeout: service.read_timeout,
      })
      this.#pools.set(key, pool)
    }
    return pool
  }

  /**
   * Sends one request, retrying failures to connect up to the service's `retries`, and streams
   * the response into what `onResponse` returns (the client response). `body` makes a fresh
   * body of the same bytes for every attempt. `done` is called once the response body has been
   * written whole, or with the failure: the raw error, to be told apart by
   * {@link classifyUpstreamFailure}, and whether the response head had been passed on.
   * Callbacks only: no promise per request.
   */
  send(
    service: ServiceEntry,
    request: UpstreamRequest,
    body: () => Readable | Buffer | null,
    onResponse: (data: {
      statusCode: number
      headers: Record<string, string | string[] | undefined>
    }) => Writable,
    done: (err: Error | undefined, afterHead: boolean) => void,
  ): void {
    const pool = this.pool(service)
    let responded = false
    let attempt = 0
    const factory = (data: Dispatcher.StreamFactoryData) => {
      responded = true
      return onResponse(data as never)
    }
    const callback = (err: Error | null) => {
      if (!err) return done(undefined, true)
      const aborted = (request.signal as { aborted?: boolean } | undefined)?.aborted === true
      if (!responded && !aborted && RETRYABLE.has(codeOf(err)) && attempt < service.retries) {
        attempt++
        request.body = body()
        return pool.stream(request as Dispatcher.RequestOptions, factory, callback)
      }
      done(err, responded)
    }
    request.body = body()
    pool.stream(request as Dispatcher.RequestOptions, factory, callback)
  }

  /**
   * After a reload: closes the pools no service of `services` uses any more (their requests
   * in flight finish first), so old addresses and TLS material do not linger.
   */
  retain(services: readonly ServiceEntry[]): void {
    const keep = new Set(services.map(poolKey))
    for (const [key, pool] of this.#pools) {
      if (keep.has(key)) continue
      this.#pools.delete(key)
      void pool.close().catch(() => pool.destroy())
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())))
  }
}
