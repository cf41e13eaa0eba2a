import type { ReplayStore } from './store.js'

/**
 * In-process replay store, bounded. For one upstream instance; with several instances behind a
 * load balancer a replay can land on another instance: use the Redis store there.
 * When full of unexpired ids, the oldest is forgotten (documented limit: size it above
 * requests per second × token lifetime).
 */
export class MemoryReplayStore implements ReplayStore {
  #seen = new Map<string, number>()
  #max: number
  #clock: () => number

  /**
   * @example
   * ```ts
   * const store = new MemoryReplayStore({ max: 100_000 })
   * ```
   */
  constructor(options: { max?: number; clock?: () => number } = {}) {
    this.#max = options.max ?? 100_000
    this.#clock = options.clock ?? Date.now
  }

  get size(): number {
    return this.#seen.size
  }

  #sweep(now: number): void {
    for (const [jti, expiresAt] of this.#seen) {
      if (expiresAt <= now) this.#seen.delete(jti)
    }
  }

  async claim(jti: string, expiresAt: number): Promise<boolean> {
    const now = this.#clock()
    const known = this.#seen.get(jti)
    if (known !== undefined && known > now) return false
    if (this.#seen.size >= this.#max) {
      this.#sweep(now)
      if (this.#seen.size >= this.#max) this.#seen.delete(this.#seen.keys().next().value as string)
    }
    this.#seen.set(jti, expiresAt)
    return true
  }
}
