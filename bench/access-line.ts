/**
 * The access-log line alone: pino's generic path (`logger.info(accessRecord(x), 'request')`)
 * against the fixed-shape writer (`writeAccessLine`), both into the same batched pino
 * destination on /dev/null, and the writer into an AccessBatch as `gatewayLogger` sets it up;
 * and the request metrics alone, prom-client's children against the
 * kept series; and the line's millisecond figures, the double's shortest decimal against
 * integer hundredths. CPU per call, printed by mitata. Then gatewayLogger's batch size, 4 KiB against
 * 16 KiB, into a real file: CPU per line of the whole process.
 *
 *   node --import tsx bench/access-line.ts
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bench, do_not_optimize, run, summary } from 'mitata'
import { pino } from 'pino'
import { Counter, Histogram, Registry } from 'prom-client'
import { AccessBatch, accessBatchKey } from '../src/gateway/access-batch.js'
import { accessMembers, hundredths, writeAccessLine } from '../src/gateway/access-line.js'
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

// The line's three millisecond figures, each a different fraction in real traffic (a fixed
// one would hit V8's number-to-string cache): the double's shortest decimal against the
// integer hundredths.
const millis = Array.from({ length: 4096 }, () => Math.random() * 40)
let m = 0
summary(() => {
  bench('milliseconds: String(Math.round(ms * 100) / 100)', () => {
    do_not_optimize(String(Math.round(millis[m++ & 4095]! * 100) / 100))
  })
  bench('milliseconds: hundredths(ms)', () => {
    do_not_optimize(hundredths(millis[m++ & 4095]!))
  })
})
await run()
dest.flushSync()

// The batch size of gatewayLogger, into a real file through the asynchronous destination (each
// write goes to the thread pool and back): process CPU per line, all threads, the loop yielding
// every 8 lines as a loaded gateway does. Interleaved reps; this part is not mitata's, since the
// writes complete outside the measured call.
async function cpuPerLine(batchChars: number, file: string, lines: number): Promise<number> {
  const out = pino.destination({
    dest: file,
    sync: false,
    minLength: 4096,
    maxWrite: 2 * batchChars,
  })
  await new Promise((resolve) => out.once('ready', resolve))
  const batch = new AccessBatch(out, batchChars)
  const line = `{"level":30,"time":1796124459101,"pid":1,"hostname":"h","name":"kong-upstream-jwt"${accessMembers(x, 3.2718)},"msg":"request"}\n`
  const before = process.cpuUsage()
  for (let i = 0; i < lines; i += 8) {
    for (let k = 0; k < 8; k++) batch.push(line)
    await new Promise(setImmediate)
  }
  batch.flush()
  await new Promise((resolve) => out.flush(resolve))
  const used = process.cpuUsage(before)
  out.end()
  return (used.user + used.system) / lines
}
const dir = mkdtempSync(join(tmpdir(), 'access-line-'))
try {
  const sizes = [4096, 16384]
  const results = new Map<number, number[]>(sizes.map((size) => [size, []]))
  for (let rep = 0; rep < 5; rep++)
    for (const size of rep % 2 ? [...sizes].reverse() : sizes)
      results.get(size)!.push(await cpuPerLine(size, join(dir, `${size}-${rep}.log`), 50_000))
  console.log('\naccess lines into a file, asynchronous destination: CPU per line (5 reps)')
  for (const [size, xs] of results) {
    const sorted = [...xs].sort((a, b) => a - b)
    console.log(
      `  batch ${String(size / 1024).padStart(2)} KiB: median ${sorted[2]!.toFixed(2)} µs (${sorted[0]!.toFixed(2)}–${sorted[4]!.toFixed(2)})`,
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
