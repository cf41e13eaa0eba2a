import type { Readable, Writable } from 'node:stream'
import { type Dispatcher, Pool } from 'undici'
import { UpstreamError } from '../core/errors.js'
import type { ServiceEntry } from './config.js'

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

/** Keep-alive connection pools, one per service. */
export class Upstreams {
  #pools = new Map<string, Pool>()

  pool(service: ServiceEntry): Pool {
    let pool = this.#pools.get(service.id)
    if (!pool) {
      const origin = `${service.protocol}://${service.host.includes(':') ? `[${service.host}]` : service.host}:${service.port}`
      pool = new Pool(origin, {
        connections: 256,
        keepAliveTimeout: 60_000,
        connect: { timeout: service.connect_timeout },
        headersTimeout: service.read_timeout,
        bodyTimeout: service.read_timeout,
      })
      this.#pools.set(service.id, pool)
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

  async close(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())))
  }
}
