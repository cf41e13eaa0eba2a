import { createServer, type Server, type ServerResponse } from 'node:http'
import type { JsonWebKeySet } from '../signer/signer.js'

/** What the admin listener reports; read per request, so it is always the running state. */
export interface AdminSource {
  /**
   * `/status`: the JSON document (uptime, requests, config, workers); answered with 503 when
   * its `status` is not `ok`.
   */
  status(): { status: string } | Promise<{ status: string }>
  /** `/metrics`: Prometheus text and its content type. */
  metrics(): Promise<{ text: string; contentType: string }>
  /**
   * `/.well-known/jwks.json`: the public keys of every signer; `undefined` when none can be
   * read now (no worker running), answered with 503.
   */
  jwks(): JsonWebKeySet | undefined | Promise<JsonWebKeySet | undefined>
}

function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  type = 'application/json',
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/**
 * The admin listener: `GET /status`, `/metrics` (Prometheus) and `/.well-known/jwks.json`, kept
 * apart from the proxy listener (default 127.0.0.1 only). With `--workers`, the primary process
 * serves it for all workers.
 *
 * @example
 * ```ts
 * const admin = createAdminServer({ status: () => ({ status: 'ok' }), metrics, jwks })
 * admin.listen(8001, '127.0.0.1')
 * ```
 */
export function createAdminServer(source: AdminSource): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET') return reply(res, 405, { message: 'Method not allowed' })
    const answer = async () => {
      if (path === '/status') {
        const status = await source.status()
        return reply(res, status.status === 'ok' ? 200 : 503, status)
      }
      if (path === '/metrics') {
        const { text, contentType } = await source.metrics()
        return reply(res, 200, text, contentType)
      }
      if (path === '/.well-known/jwks.json') {
        const jwks = await source.jwks()
        if (!jwks) return reply(res, 503, { message: 'No worker is running; try again shortly' })
        return reply(res, 200, jwks, 'application/jwk-set+json')
      }
      return reply(res, 404, { message: 'Not found' })
    }
    answer().catch((err: Error) => {
      if (!res.headersSent) reply(res, 500, { message: 'An unexpected error occurred' })
      else res.destroy(err)
    })
  })
}
