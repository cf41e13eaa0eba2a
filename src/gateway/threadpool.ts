/**
 * Set by the binary (bin/kong-upstream-jwt.cjs) when it chose `UV_THREADPOOL_SIZE` itself, the
 * user having set none: the primary then sizes each worker's pool (see
 * {@link workerThreadPoolSize}), and leaves a size the user chose alone.
 */
export const THREADPOOL_CHOSEN_ENV = 'KONG_UPSTREAM_JWT_THREADPOOL'

/**
 * The size of libuv's thread pool, where the gateway signs when a core is free (`--sign-on`):
 * read as libuv reads it when the pool starts (`UV_THREADPOOL_SIZE` through atoi into an
 * unsigned int, else 4: 0 and what is not a number count as 1, a negative number wraps round to
 * the maximum, 1024). Logged with the gateway's ready line.
 *
 * @example
 * ```ts
 * threadPoolSize({ UV_THREADPOOL_SIZE: '1' }) // 1
 * ```
 */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.UV_THREADPOOL_SIZE
  if (value === undefined) return 4
  const n = Number.parseInt(value, 10)
  if (Number.isNaN(n) || n === 0) return 1
  return n < 0 ? 1024 : Math.min(1024, n)
}

/**
 * The pool each of `workers` worker processes gets when the binary chose the size: the cores
 * the workers' loops leave free, shared among them (at least 1, at most libuv's default 4), so
 * the processes together have no more pool threads than free cores (or one each).
 *
 * With `rsa` (a configuration signing with an RSA key) and a free core per worker, where the
 * workers sign on the pool, one thread more: an RSA-2048 signature is 5–10 times an ES256 one,
 * and a single thread caps a worker at one core's worth of them while its loop's core idles.
 * RS256 through one worker on 2 cores, pool of 2 against 1 (bench/gateway, A/B in one run, 4
 * reps): 1.09× and 1.15× the requests per second (POST, GET) at 0.99× and 0.90× the CPU per
 * request; an earlier A/B saved 3–9 % of the CPU in four pairs.
 *
 * @example
 * ```ts
 * workerThreadPoolSize(2, 8) // 3
 * workerThreadPoolSize(1, 2, true) // 2
 * ```
 */
export function workerThreadPoolSize(workers: number, cores: number, rsa = false): number {
  const share = Math.min(4, Math.max(1, Math.floor((cores - workers) / workers)))
  return rsa && cores - workers >= workers ? Math.min(4, share + 1) : share
}
