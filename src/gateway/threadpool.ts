/**
 * The size of libuv's thread pool, where the gateway signs when a core is free (`--sign-on`):
 * read as libuv reads it when the pool starts (`UV_THREADPOOL_SIZE` through atoi, else 4; 0 and
 * what is not a number count as 1; at most 1024). The binary sets the variable before the pool
 * starts unless the user has (bin/kong-upstream-jwt.cjs). Logged with the gateway's ready line.
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
  return Math.min(1024, Number.isNaN(n) || n <= 0 ? 1 : n)
}
