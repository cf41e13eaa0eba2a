import { Counter, Histogram, Registry } from 'prom-client'

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** The gateway's Prometheus metrics, in a registry of its own (not the process-global one). */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly requests = new Counter({
    name: 'kong_upstream_jwt_requests_total',
    help: 'Requests handled, by service, route and status',
    labelNames: ['service', 'route', 'status'] as const,
    registers: [this.registry],
  })
  readonly latency = new Histogram({
    name: 'kong_upstream_jwt_request_duration_seconds',
    help: 'Total time from request to response end',
    labelNames: ['service'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  })
  readonly signing = new Histogram({
    name: 'kong_upstream_jwt_signing_duration_seconds',
    help: 'Time to sign one token',
    buckets: BUCKETS,
    registers: [this.registry],
  })
  readonly upstream = new Histogram({
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
  // Labelled children, kept so a request does not hash its label set again.
  #requestChildren = new Map<string, { inc(): void }>()
  #latencyChildren = new Map<string, { observe(v: number): void }>()
  #upstreamChildren = new Map<string, { observe(v: number): void }>()

  /** Counts a finished request and its total time. */
  recordRequest(service: string, route: string, status: number, seconds: number): void {
    const key = `${service}\u0000${route}\u0000${status}`
    let counter = this.#requestChildren.get(key)
    if (!counter) {
      counter = this.requests.labels(service, route, String(status))
      this.#requestChildren.set(key, counter)
    }
    counter.inc()
    let latency = this.#latencyChildren.get(service)
    if (!latency) {
      latency = this.latency.labels(service)
      this.#latencyChildren.set(service, latency)
    }
    latency.observe(seconds)
  }

  /** Records the time to the upstream's response headers. */
  recordUpstream(service: string, seconds: number): void {
    let child = this.#upstreamChildren.get(service)
    if (!child) {
      child = this.upstream.labels(service)
      this.#upstreamChildren.set(service, child)
    }
    child.observe(seconds)
  }

  readonly signingErrors = new Counter({
    name: 'kong_upstream_jwt_signing_errors_total',
    help: 'Requests refused because no token could be signed',
    registers: [this.registry],
  })
}
