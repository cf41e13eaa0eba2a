/**
 * The access-log line alone: pino's generic path (`logger.info(accessRecord(x), 'request')`)
 * against the fixed-shape writer (`writeAccessLine`), both into the same batched pino
 * destination on /dev/null, and the writer into an AccessBatch as `gatewayLogger` sets it up;
 * and the request metrics alone, prom-client's children against the
 * kept series. CPU per call, printed by mitata.
 *
 *   node --import tsx bench/access-line.ts
 */
import { bench, do_not_optimize, run, summary } from 'mitata'
import { pino } from 'pino'
import { Counter, Histogram, Registry } from 'prom-client'
import { AccessBatch, accessBatchKey } from '../src/gateway/access-batch.js'
import { writeAccessLine } from '../src/gateway/access-line.js'
import type { Exchange } from '../src/gateway/exchange.js'
import { GatewayMetrics } from '../src/gateway/metrics.js'
import { accessRecord } from '../src/gateway/steps/log.js'

const x = {
  method: 'POST',
  path: '/api/orders',
  routeName: 'orders',
  serviceName: 'orders-svc',
  consumerName: 'alice',
  status: 200,
  signMs: 0.0213,
  upstreamMs: 1.2345,
  body: { digest: { size: 1024 } },
  token: { claims: { jti: '6f1c2a7e-3b1d-4a57-9a64-2f6f0d1b7c11' } },
  nonce: undefined,
  upstream: undefined,
  error: undefined,
} as unknown as Exchange

// Synchronous writes at 4 KiB: the batch drains as it does in the gateway (an asynchronous
// destination in a loop that never yields would only grow its buffer).
const dest = pino.destination({ dest: '/dev/null', sync: true, minLength: 4096 })
const logger = pino({ name: 'kong-upstream-jwt', level: 'info' }, dest)
// As gatewayLogger makes it: the lines joined in an AccessBatch before the destination.
const batchedDest = pino.destination({ dest: '/dev/null', sync: true, minLength: 4096 })
const batched = Object.assign(pino({ name: 'kong-upstream-jwt', level: 'info' }, batchedDest), {
  [accessBatchKey]: new AccessBatch(batchedDest, 4096),
})
const metrics = new GatewayMetrics()

summary(() => {
  bench('access line: pino info(accessRecord)', () => {
    logger.info(accessRecord(x, 3.2718), 'request')
  })
  bench('access line: writeAccessLine', () => {
    writeAccessLine(logger, x, 3.2718, () => accessRecord(x, 3.2718))
  })
  bench('access line: writeAccessLine, batched', () => {
    writeAccessLine(batched, x, 3.2718, () => accessRecord(x, 3.2718))
  })
})
// What the gateway did before: prom-client metrics, labelled children kept in maps.
const registry = new Registry()
const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
const labelled = { labelNames: ['service'], buckets, registers: [registry] }
const old = {
  requests: new Counter({
    name: 'r',
    help: 'r',
    labelNames: ['service', 'route', 'status'],
    registers: [registry],
  }),
  latency: new Histogram({ name: 'l', help: 'l', ...labelled }),
  upstream: new Histogram({ name: 'u', help: 'u', ...labelled }),
  signing: new Histogram({ name: 's', help: 's', buckets, registers: [registry] }),
  children: new Map<string, { inc(): void } | { observe(v: number): void }>(),
}
function child<T>(key: string, make: () => T): T {
  let c = old.children.get(key) as T | undefined
  if (!c) {
    c = make()
    old.children.set(key, c as never)
  }
  return c
}

summary(() => {
  bench('metrics per request: prom-client, children kept', () => {
    child('orders-svc\u0000orders\u0000200', () =>
      old.requests.labels('orders-svc', 'orders', '200'),
    ).inc()
    child('l:orders-svc', () => old.latency.labels('orders-svc')).observe(0.0031)
    child('u:orders-svc', () => old.upstream.labels('orders-svc')).observe(0.0012)
    old.signing.observe(0.00002)
    do_not_optimize(old)
  })
  bench('metrics per request: GatewayMetrics (kept series)', () => {
    metrics.recordRequest('orders-svc', 'orders', 200, 0.0031)
    metrics.recordUpstream('orders-svc', 0.0012)
    metrics.signing.observe(0.00002)
    do_not_optimize(metrics)
  })
})
await run()
dest.flushSync()
