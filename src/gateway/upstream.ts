import type { Readable, Writable } from 'node:stream'
import { type Dispatcher, Pool } from 'undici'
import { UpstreamError } from '../core/errors.js'
import type { ServiceEntry } from './config.js'
import { tlsFailureCause, upstreamConnect } from './upstream-tls.js'

export { UpstreamError }

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
])
// Failures before the request reached the upstream: safe to try again (Kong's `retries`).
const RETRYABLE = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
])

function codeOf(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } }
  return e?.code ?? e?.cause?.code ?? ''
}

function originOf(service: ServiceEntry): string {
  return `${service.protocol}://${service.host.includes(':') ? `[${service.host}]` : service.host}:${service.port}`
}

// A reload that changes the address or the TLS material gets a pool of its own. Service
// entries are immutable, so the key is made once per entry, not per request.
const poolKeys = new WeakMap<ServiceEntry, string>()
function poolKey(service: ServiceEntry): string {
  let key = poolKeys.get(service)
  if (key === undefined) {
    key = `${service.id}|${originOf(service)}|${service.tls?.fingerprint ?? ''}`
    poolKeys.set(service, key)
  }
  return key
}

/** Keep-alive connection pools, one per service. */
export class Upstreams {
  #pools = new Map<string, Pool>()

  pool(service: ServiceEntry): Pool {
    const origin = originOf(service)
    const key = poolKey(service)
    let pool = this.#pools.get(key)
    if (!pool) {
      pool = new Pool(origin, {
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
   * stream of the same bytes for every attempt. Resolves when the response body has been
   * written whole.
   *
   * @throws {UpstreamError} 502 unreachable, 504 timed out
   */
  async send(
    service: ServiceEntry,
    request: Omit<Dispatcher.RequestOptions, 'origin' | 'body'> & {
      body: () => Readable | Buffer | null
    },
    onResponse: (data: {
      statusCode: number
      headers: Record<string, string | string[] | undefined>
    }) => Writable,
  ): Promise<void> {
    const pool = this.pool(service)
    for (let attempt = 0; ; attempt++) {
      let responded = false
      try {
        await pool.stream({ ...request, body: request.body() }, (data) => {
          responded = true
          return onResponse(data as never)
        })
        return
      } catch (err) {
        const code = codeOf(err)
        if (responded || (request.signal as { aborted?: boolean } | undefined)?.aborted) throw err
        if (RETRYABLE.has(code) && attempt < service.retries) continue
        const tlsCause = tlsFailureCause(err)
        if (tlsCause)
          throw new UpstreamError(
            'ERR_UPSTREAM_TLS',
            'An invalid response was received from the upstream server',
            { cause: err, upstream: `${service.host}:${service.port}`, reason: tlsCause },
          )
        if (TIMEOUT_CODES.has(code))
          throw new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'The upstream server is timing out', {
            cause: err,
          })
        throw new UpstreamError(
          'ERR_UPSTREAM_UNREACHABLE',
          'An invalid response was received from the upstream server',
          {
            cause: err,
          },
        )
      }
    }
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
