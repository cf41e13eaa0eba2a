import type { Registry } from 'prom-client'

/**
 * Prometheus counters and histograms whose labelled series are objects the caller keeps (per
 * service, per route and status), so counting a request is an addition, not a label hash.
 * prom-client hashes and validates the label set on every `inc`/`observe`, also through its
 * `labels()` children (0.2–0.3 µs each, bench/access-line). These register in a prom-client
 * Registry as any metric does, and `get()` gives exactly what prom-client's Counter and
 * Histogram give for the same counts, so `/metrics` and the cluster's AggregatorRegistry see no
 * difference (test/gateway/series-metrics.test.ts compares both against prom-client).
 */

interface MetricOptions<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames?: readonly L[]
  readonly registers: readonly Registry[]
}

type Labels = Readonly<Record<string, string>>

/** One labelled series of a {@link SeriesCounter}. */
export class CounterSeries {
  value = 0
  readonly labels: Labels
  constructor(labels: Labels) {
    this.labels = labels
  }

  inc(by = 1): void {
    this.value += by
  }
}

/** One labelled series of a {@link SeriesHistogram}: its bucket counts, sum and count. */
export class HistogramSeries {
  readonly counts: Float64Array
  sum = 0
  count = 0
  readonly labels: Labels
  readonly #bounds: readonly number[]
  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length)
  }

  observe(value: number): void {
    const bounds = this.#bounds
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1
        break
      }
    }
    this.sum += value
    this.count++
  }
}

abstract class SeriesMetric<L extends string, S extends { labels: Labels }> {
  readonly name: string
  readonly help: string
  readonly aggregator = 'sum'
  readonly labelNames: readonly L[]
  protected readonly all = new Map<string, S>()

  constructor(options: MetricOptions<L>) {
    this.name = options.name
    this.help = options.help
    this.labelNames = options.labelNames ?? []
  }

  protected register(registers: readonly Registry[]): void {
    // prom-client shows a metric without labels (at 0) before its first use.
    if (this.labelNames.length === 0) this.series()
    for (const registry of registers) registry.registerMetric(this as never)
  }

  protected abstract make(labels: Labels): S

  /** The series for these label values, in `labelNames` order; made on first use. Keep it. */
  series(...values: string[]): S {
    const key = values.join('\u0000')
    let s = this.all.get(key)
    if (!s) {
      const labels: Record<string, string> = {}
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i] as string
      })
      s = this.make(labels)
      this.all.set(key, s)
    }
    return s
  }
}

/**
 * A Prometheus counter of kept series.
 *
 * @example
 * ```ts
 * const c = new SeriesCounter({ name: 'x_total', help: 'X', labelNames: ['status'], registers: [registry] })
 * const ok = c.series('200')
 * ok.inc()
 * ```
 */
export class SeriesCounter<L extends string = never> extends SeriesMetric<L, CounterSeries> {
  readonly type = 'counter'

  constructor(options: MetricOptions<L>) {
    super(options)
    this.register(options.registers)
  }

  protected make(labels: Labels): CounterSeries {
    return new CounterSeries(labels)
  }

  /** Prometheus values in prom-client's shape and order. */
  async get() {
    const values = [...this.all.values()].map((s) => ({ value: s.value, labels: s.labels }))
    return {
      help: this.help,
      name: this.name,
      type: this.type,
      values,
      aggregator: this.aggregator,
    }
  }
}

/**
 * A Prometheus histogram of kept series.
 *
 * @example
 * ```ts
 * const h = new SeriesHistogram({ name: 'x_seconds', help: 'X', labelNames: ['service'], buckets: [0.1, 1], registers: [registry] })
 * const orders = h.series('orders')
 * orders.observe(0.05)
 * ```
 */
export class SeriesHistogram<L extends string = never> extends SeriesMetric<L, HistogramSeries> {
  readonly type = 'histogram'
  readonly #bounds: readonly number[]

  constructor(options: MetricOptions<L> & { readonly buckets: readonly number[] }) {
    super(options)
    this.#bounds = [...options.buckets]
    this.register(options.registers)
  }

  protected make(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.#bounds)
  }

  /** Observes into the series without labels. */
  observe(value: number): void {
    this.series().observe(value)
  }

  /** Prometheus values in prom-client's shape and order (`le` first, then the series' labels). */
  async get() {
    const bucket = `${this.name}_bucket`
    const values: {
      value: number
      metricName: string
      exemplar: null | undefined
      labels: Record<string, string | number>
    }[] = []
    for (const s of this.all.values()) {
      let acc = 0
      this.#bounds.forEach((le, i) => {
        acc += s.counts[i] as number
        values.push({ value: acc, metricName: bucket, exemplar: null, labels: { le, ...s.labels } })
      })
      const inf = { le: '+Inf', ...s.labels }
      values.push({ value: s.count, metricName: bucket, exemplar: null, labels: inf })
      values.push({
        value: s.sum,
        metricName: `${this.name}_sum`,
        exemplar: undefined,
        labels: { ...s.labels },
      })
      values.push({
        value: s.count,
        metricName: `${this.name}_count`,
        exemplar: undefined,
        labels: { ...s.labels },
      })
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    }
  }
}
