import type { Logger } from 'pino'
import { writeAccessLine } from '../access-line.js'
import type { Exchange } from '../exchange.js'
import type { GatewayMetrics } from '../metrics.js'

const round = (ms: number) => Math.round(ms * 100) / 100

/** The access-log record of one request: one flat object of fixed shape. */
export function accessRecord(x: Exchange, latencyMs: number): Record<string, unknown> {
  return {
    method: x.method,
    path: x.path,
    route: x.routeName || undefined,
    service: x.serviceName || undefined,
    consumer: x.consumerName,
    status: x.status,
    latency_ms: round(latencyMs),
    signing_ms: x.signMs === undefined ? undefined : round(x.signMs),
    upstream_ms: x.upstreamMs === undefined ? undefined : round(x.upstreamMs),
    body_bytes: x.body?.digest.size,
    jti: x.token?.claims.jti ?? x.nonce,
    upstream: x.upstream,
    error: x.error,
  }
}

/**
 * Step 6, log: counts the request in the metrics and writes the access-log line, at error level
 * when the gateway or the upstream failed (5xx), at info level otherwise.
 *
 * @example
 * ```ts
 * log(x, metrics, logger)
 * ```
 */
export function log(x: Exchange, metrics: GatewayMetrics, logger: Logger): void {
  const latency = performance.now() - x.started
  metrics.recordRequest(x.serviceName, x.routeName, x.status, latency / 1000)
  if (x.status >= 500) logger.error(accessRecord(x, latency), 'request')
  else if (logger.isLevelEnabled('info'))
    writeAccessLine(logger, x, latency, () => accessRecord(x, latency))
}
