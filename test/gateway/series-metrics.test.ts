import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client'
import { SeriesCounter, SeriesHistogram } from '../../src/gateway/series-metrics.js'

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** The same metrics twice: prom-client's own classes, and ours, each in a registry. */
function pair() {
  const theirs = new Registry()
  const ours = new Registry()
  const opts = {
    requests: {
      name: 'x_requests_total',
      help: 'Requests "by" \\ status\nand route',
      labelNames: ['service', 'route', 'status'] as const,
    },
    latency: {
      name: 'x_duration_seconds',
      help: 'Latency',
      labelNames: ['service'] as const,
      buckets: BUCKETS,
    },
    signing: { name: 'x_signing_seconds', help: 'Signing', buckets: BUCKETS },
  }
  return {
    theirs,
    ours,
    t: {
      requests: new Counter({ ...opts.requests, registers: [theirs] }),
      latency: new Histogram({ ...opts.latency, registers: [theirs] }),
      signing: new Histogram({ ...opts.signing, registers: [theirs] }),
    },
    o: {
      requests: new SeriesCounter({ ...opts.requests, registers: [ours] }),
      latency: new SeriesHistogram({ ...opts.latency, registers: [ours] }),
      signing: new SeriesHistogram({ ...opts.signing, registers: [ours] }),
    },
  }
}

// Values on, between, below and above the bucket bounds.
const VALUES = [0, 0.0005, 0.001, 0.0011, 0.003, 0.05, 0.3, 1, 7.5, 60, 61, 1e6]
const LABELS = [
  ['orders', 'orders-route', '200'],
  ['users', 'u"s\\e\nr', '502'],
  ['orders', 'orders-route', '404'],
  ['orders', 'other', '200'],
] as const

function feed(p: ReturnType<typeof pair>, rounds: number) {
  for (let r = 0; r < rounds; r++) {
    VALUES.forEach((v, i) => {
      const [service, route, status] = LABELS[(i + r) % LABELS.length] as (typeof LABELS)[number]
      p.t.requests.inc({ service, route, status })
      p.o.requests.series(service, route, status).inc()
      p.t.latency.observe({ service }, v)
      p.o.latency.series(service).observe(v)
      p.t.signing.observe(v / 1000)
      p.o.signing.observe(v / 1000)
    })
  }
}

describe('series metrics', () => {
  test('show exactly what prom-client shows, before any count and after many', async () => {
    const p = pair()
    assert.equal(await p.ours.metrics(), await p.theirs.metrics())
    feed(p, 5)
    const text = await p.ours.metrics()
    assert.equal(text, await p.theirs.metrics())
    assert.match(text, /x_duration_seconds_bucket\{le="\+Inf",service="orders"\} \d+/)
    assert.deepEqual(await p.ours.getMetricsAsJSON(), await p.theirs.getMetricsAsJSON())
  })

  test('aggregate across workers as prom-client metrics do', async () => {
    const a = pair()
    const b = pair()
    feed(a, 2)
    feed(b, 3)
    const theirs = AggregatorRegistry.aggregate([
      await a.theirs.getMetricsAsJSON(),
      await b.theirs.getMetricsAsJSON(),
    ])
    const ours = AggregatorRegistry.aggregate([
      await a.ours.getMetricsAsJSON(),
      await b.ours.getMetricsAsJSON(),
    ])
    assert.equal(await ours.metrics(), await theirs.metrics())
  })

  test('a kept series counts into the metric it came from', async () => {
    const registry = new Registry()
    const c = new SeriesCounter({
      name: 'c_total',
      help: 'c',
      labelNames: ['status'],
      registers: [registry],
    })
    const ok = c.series('200')
    ok.inc()
    ok.inc(2)
    assert.equal(c.series('200'), ok)
    assert.match(await registry.metrics(), /^c_total\{status="200"\} 3$/m)
  })
})
