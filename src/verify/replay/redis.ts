import type { ReplayStore } from './store.js'

/** The one command the store needs; an `ioredis` `Redis` or `Cluster` client has it. */
export interface RedisLike {
  set(key: string, value: string, px: 'PX', ttl: number, nx: 'NX'): Promise<string | null>
  quit?(): Promise<unknown>
  disconnect?(): void
}

export interface RedisReplayStoreOptions {
  /** Key prefix; default `kong-upstream-jwt:jti:`. */
  readonly prefix?: string
  /** Give up on a command after this many ms (the verifier then answers 503); default 1000. */
  readonly timeout?: number
  readonly clock?: () => number
}

/**
 * Replay store shared by every instance of an upstream: one atomic `SET key 1 PX ttl NX` per
 * token, so two instances can never both accept the same `jti`. One key per command, so it
 * works with Redis Cluster as it is.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * const store = new RedisReplayStore(new Redis(process.env.REDIS_URL!))
 * // or: const store = await RedisReplayStore.connect('redis://127.0.0.1:6379')
 * ```
 */
export class RedisReplayStore implements ReplayStore {
  #client: RedisLike
  #owned: boolean
  #prefix: string
  #timeout: number
  #clock: () => number

  constructor(client: RedisLike, options: RedisReplayStoreOptions = {}, owned = false) {
    this.#client = client
    this.#owned = owned
    this.#prefix = options.prefix ?? 'kong-upstream-jwt:jti:'
    this.#timeout = options.timeout ?? 1000
    this.#clock = options.clock ?? Date.now
  }

  /**
   * Opens its own `ioredis` connection (an optional dependency: `npm i ioredis`) that fails
   * fast instead of queueing commands while Redis is down.
   */
  static async connect(
    url: string,
    options: RedisReplayStoreOptions = {},
  ): Promise<RedisReplayStore> {
    const { Redis } = await import('ioredis')
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.timeout ?? 1000,
      lazyConnect: true,
    })
    client.on('error', () => {}) // surfaced per command as 503s; reconnects on its own
    await client.connect().catch(() => {})
    return new RedisReplayStore(client as unknown as RedisLike, options, true)
  }

  async claim(jti: string, expiresAt: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(expiresAt - this.#clock()))
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${this.#timeout} ms`)),
        this.#timeout,
      )
    })
    try {
      const answer = await Promise.race([
        this.#client.set(this.#prefix + jti, '1', 'PX', ttl, 'NX'),
        timeout,
      ])
      return answer === 'OK'
    } finally {
      clearTimeout(timer)
    }
  }

  async close(): Promise<void> {
    if (!this.#owned) return
    await this.#client.quit?.().catch(() => {})
    // quit() cannot reach a server that is down; disconnect() also stops the reconnect timer.
    this.#client.disconnect?.()
  }
}
