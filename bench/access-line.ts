/**
 * The access-log line alone: pino's generic path (`logger.info(accessRecord(x), 'request')`)
 * against the fixed-shape writer (`writeAccessLine`), both into the same batched pino
 * destination on /dev/null; and the request metrics alone. CPU per call, printed by mitata.
 *
 *   node --import tsx bench/access-line.ts
 */
import { bench, do_not_optimize, run, summary } from 'mitata'
import { pino } from 'pino'
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

const dest = pino.destination({ dest: '/dev/null', sync: true, minLength: 4096 })
const logger = pino({ name: 'kong-upstream-jwt', level: 'info' }, dest)
const metrics = new GatewayMetrics()

summary(() => {
  bench('access line: pino info(accessRecord)', () => {
    logger.info(accessRecord(x, 3.2718), 'request')
  })
  bench('access line: writeAccessLine', () => {
    writeAccessLine(logger, x, 3.2718, () => accessRecord(x, 3.2718))
  })
})
bench('metrics: recordRequest + recordUpstream + signing.observe', () => {
  metrics.recordRequest('orders-svc', 'orders', 200, 0.0031)
  metrics.recordUpstream('orders-svc', 0.0012)
  metrics.signing.observe(0.00002)
  do_not_optimize(metrics)
})
await run()
dest.flushSync()
