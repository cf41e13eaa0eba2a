/**
 * The size of V8's young generation in the gateway's workers.
 *
 * Every request allocates short-lived objects (headers, claims, the token, the access line):
 * about 25 KB of them, which a scavenge collects once its semi-space fills. A scavenge costs
 * what survives it — the state of the requests in flight — not what it frees, so with V8's
 * default (the young generation starts at 1 MiB a semi-space and grows only while much of it
 * survives) a gateway under load scavenges every few hundred requests, copying the same
 * in-flight state each time. With 32 MiB semi-spaces it scavenges about a third as often:
 * measured through one worker on 2 cores, ES256, c32 (README, Benchmarks): 2.6 µs of scavenge
 * per request instead of 8.4, and 0.81–0.91× the CPU per request.
 *
 * V8 fixes the size when the process starts, so it is given to the workers the primary forks
 * (`node:cluster`'s `execArgv`); a size the user gave Node (on the command line or in
 * `NODE_OPTIONS`) is kept as it is.
 */

/** Megabytes per semi-space for the workers, unless the user chose (`--max-semi-space-size`). */
export const SEMI_SPACE_MIB = 32

// V8 reads its flags with dashes or underscores alike, the value after `=` or as the next word.
const SEMI_SPACE_FLAG = /^--max[-_]semi[-_]space[-_]size(?:=|$)/

/**
 * The Node flags for a worker: the primary's own, plus the young generation's size unless the
 * user set one.
 *
 * @example
 * ```ts
 * cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) })
 * ```
 */
export function workerExecArgv(execArgv: readonly string[], nodeOptions?: string): string[] {
  const chosen = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((arg) =>
    SEMI_SPACE_FLAG.test(arg),
  )
  return chosen ? [...execArgv] : [...execArgv, `--max-semi-space-size=${SEMI_SPACE_MIB}`]
}
