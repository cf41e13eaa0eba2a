import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { type Dispatcher, errors, Pool } from 'undici'
import { UpstreamError } from '../core/errors.js'
import type { ServiceEntry } from './config.js'
import { responseHeaderList } from './forwarding.js'
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

/** A request for `Upstreams.send`: method, path and headers as a flat `[name, value, …]` list. */
export interface UpstreamRequest {
  readonly method: string
  readonly path: string
  readonly headers: readonly string[]
}

/** The gateway's side of one upstream exchange (the client response, in the gateway). */
export interface UpstreamReply {
  /**
   * The upstream's final response head, its headers as a flat `[name, value, …]` list less the
   * hop-by-hop ones: passes the head on and returns where the body is written.
   */
  head(statusCode: number, headers: string[]): ServerResponse
  /**
   * Once, at the end: `err` undefined when the response was written whole (or the call was
   * cancelled after the upstream answered), else the raw failure — to be told apart by
   * {@link classifyUpstreamFailure} — and whether the head had been passed on.
   */
  done(err: Error | undefined, afterHead: boolean): void
}

/** One request in flight upstream: {@link UpstreamCall.cancel} stops it (the client went away). */
export interface UpstreamCall {
  cancel(): void
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
  /** Pools a reload retired, still finishing their requests: `close()` bounds them too. */
  #retiring = new Set<Pool>()

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
   * Sends one request, retrying failures to connect up to the service's `retries` (`body`
   * makes a fresh body of the same bytes for every attempt), and writes the response into what
   * `reply.head` returns. undici's `dispatch` with a handler of our own, not `pool.stream`: no
   * abort signal, async resource, stream-finish watcher or header object per request, which
   * measured about 14 µs of CPU per request (ES256, 1 KiB POST, bench/gateway).
   */
  send(
    service: ServiceEntry,
    request: UpstreamRequest,
    body: () => Readable | Buffer | null,
    reply: UpstreamReply,
  ): UpstreamCall {
    const call = new Call(this.pool(service), service.retries, request, body, reply)
    call.dispatch()
    return call
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
      this.#retiring.add(pool)
      void pool
        .close()
        .catch(() => pool.destroy())
        .finally(() => this.#retiring.delete(pool))
    }
  }

  /**
   * Closes every pool, those a reload retired included: requests in flight finish first, for up
   * to `graceMs`; pools still closing then are destroyed (their requests fail), so a stop cannot
   * hang on an upstream exchange that never ends. Resolves the number of pools destroyed with
   * requests still in flight.
   *
   * @example
   * ```ts
   * const destroyed = await upstreams.close(1_000)
   * ```
   */
  async close(graceMs = 1_000): Promise<number> {
    const pools = [...this.#pools.values(), ...this.#retiring]
    this.#pools.clear()
    const destroyed = await Promise.all(pools.map((p) => closeWithin(p, graceMs)))
    return destroyed.filter(Boolean).length
  }
}

/**
 * `pool.close()`, or `pool.destroy()` once `graceMs` pass or the close fails. True when requests
 * were still in flight then: a close that was only finishing (its sockets closing) is cut short
 * without being reported.
 */
function closeWithin(pool: Pool, graceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const destroy = () => {
      clearTimeout(timer)
      const { running, pending } = pool.stats
      const cut = running + pending > 0
      pool.destroy().then(
        () => resolve(cut),
        () => resolve(cut),
      )
    }
    const timer = setTimeout(destroy, graceMs)
    pool.close().then(() => {
      clearTimeout(timer)
      resolve(false)
    }, destroy)
  })
}

const NOTHING = (): void => {}

/**
 * One upstream request as an undici dispatch handler: passes the head on, writes the body with
 * backpressure, retries connect failures, and reports once. undici calls these methods itself.
 */
class Call implements Dispatcher.DispatchHandler, UpstreamCall {
  readonly #pool: Pool
  readonly #retries: number
  readonly #request: UpstreamRequest
  readonly #body: () => Readable | Buffer | null
  readonly #reply: UpstreamReply
  #attempt = 0
  #abort: ((err?: Error) => void) | undefined = undefined
  #out: ServerResponse | undefined = undefined
  #resume: () => void = NOTHING
  #cancelled = false
  /** The upstream sent its whole body; the response is still being flushed to the client. */
  #complete = false
  #settled = false

  constructor(
    pool: Pool,
    retries: number,
    request: UpstreamRequest,
    body: () => Readable | Buffer | null,
    reply: UpstreamReply,
  ) {
    this.#pool = pool
    this.#retries = retries
    this.#request = request
    this.#body = body
    this.#reply = reply
  }

  dispatch(): void {
    const r = this.#request
    this.#pool.dispatch(
      {
        method: r.method as 'GET',
        path: r.path,
        headers: r.headers as string[],
        body: this.#body(),
      },
      this,
    )
  }

  /** The client went away: stop the upstream request, or report a flush that cannot finish. */
  cancel(): void {
    if (this.#cancelled || this.#settled) return
    this.#cancelled = true
    if (this.#complete) this.#settle(undefined)
    else this.#abort?.(new errors.RequestAbortedError())
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
    if (this.#cancelled) abort(new errors.RequestAbortedError())
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx interim responses (RFC 9110 §15.2) end at this hop, as in nginx.
    if (statusCode < 200) return true
    this.#resume = resume
    this.#out = this.#reply.head(statusCode, responseHeaderList(rawHeaders))
    return true
  }

  onData(chunk: Buffer): boolean {
    const out = this.#out!
    // An empty chunk (undici's parser flushing itself on resume) has nothing to hold back.
    if (out.write(chunk) || chunk.length === 0) return true
    out.once('drain', this.#resume)
    return false
  }

  onComplete(): void {
    this.#complete = true
    this.#out!.end(() => this.#settle(undefined))
  }

  onError(err: Error): void {
    const responded = this.#out !== undefined
    if (
      !responded &&
      !this.#cancelled &&
      this.#attempt < this.#retries &&
      RETRYABLE.has(codeOf(err))
    ) {
      this.#attempt++
      this.#abort = undefined
      this.dispatch()
    } else this.#settle(err)
  }

  #settle(err: Error | undefined): void {
    if (this.#settled) return
    this.#settled = true
    this.#reply.done(err, this.#out !== undefined)
  }
}
