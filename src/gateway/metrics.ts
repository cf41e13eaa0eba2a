import { Counter, Registry } from 'prom-client'
import {
  type CounterSeries,
  type HistogramSeries,
  SeriesCounter,
  SeriesHistogram,
} from './series-metrics.js'

interface ServiceSeries {
  readonly latency: HistogramSeries
  readonly upstream: HistogramSeries
  readonly routes: Map<string, Map<number, CounterSeries>>
}

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** The gateway's Prometheus metrics, in a registry of its own (not the process-global one). */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly requests = new SeriesCounter({
    name: 'kong_upstream_jwt_requests_total',
    help: 'Requests handled, by service, route and status',
    labelNames: ['service', 'route', 'status'] as const,
    registers: [this.registry],
  })
  readonly latency = new SeriesHistogram({
    name: 'kong_upstream_jwt_request_duration_seconds',
    help: 'Total time from request to response end',
    labelNames: ['service'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  })
  readonly signing = new SeriesHistogram({
    name: 'kong_upstream_jwt_signing_duration_seconds',
    help: 'Time to sign one token',
    buckets: BUCKETS,
    registers: [this.registry],
  })
  readonly upstream = new SeriesHistogram({
    name: 'kong_upstream_jwt_upstream_duration_seconds',
    help: 'Time from sending upstream to its response headers',
    labelNames: ['service'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  })
  readonly bytesHashed = new Counter({
    name: 'kong_upstream_jwt_body_bytes_hashed_total',
    help: 'Request body bytes hashed',
    registers: [this.registry],
  })
  readonly spooled = new Counter({
    name: 'kong_upstream_jwt_bodies_spooled_total',
    help: 'Request bodies larger than client_body_buffer_size, spooled to a temp file',
    registers: [this.registry],
  })
  // The series of each service and route, kept so a request hashes no label set: service →
  // (route → status → requests counted) and its latency and upstream histograms.
  #services = new Map<string, ServiceSeries>()

  #service(service: string): ServiceSeries {
    let s = this.#services.get(service)
    if (!s) {
      s = {
        latency: this.latency.series(service),
        upstream: this.upstream.series(service),
        routes: new Map(),
      }
      this.#services.set(service, s)
    }
    return s
  }

  /** Counts a finished request and its total time. */
  recordRequest(service: string, route: string, status: number, seconds: number): void {
    const s = this.#service(service)
    let byStatus = s.routes.get(route)
    if (!byStatus) {
      byStatus = new Map()
      s.routes.set(route, byStatus)
    }
    let counter = byStatus.get(status)
    if (!counter) {
      counter = this.requests.series(service, route, String(status))
      byStatus.set(status, counter)
    }
    counter.inc()
    s.latency.observe(seconds)
  }

  /** Records the time to the upstream's response headers. */
  recordUpstream(service: string, seconds: number): void {
    this.#service(service).upstream.observe(seconds)
  }

  readonly signingErrors = new Counter({
    name: 'kong_upstream_jwt_signing_errors_total',
    help: 'Requests refused because no token could be signed',
    registers: [this.registry],
  })
}
