/**
 * The size of V8's young generation in the gateway's workers.
 *
 * Every request allocates short-lived objects (headers, claims, the token, the access line):
 * about 25 KB of them, which a scavenge collects once its semi-space fills. A scavenge costs
 * what survives it — the state of the requests in flight — not what it frees. V8 grows the
 * semi-space while much of it survives, up to a cap it sets from the machine's memory (16 MiB
 * on this 2-core, 24 GiB bench machine, which a gateway under load reaches), so the gateway
 * scavenged every 500 or so requests, copying the same in-flight state each time. At 32 MiB it
 * scavenges half as often, and spends a third of the time in it: through one worker on 2 cores,
 * ES256, c32, 2.6 µs of scavenge per request instead of 8.4, and 0.81–0.89× the CPU per request
 * (README, Gateway).
 *
 * V8 fixes the cap when the process starts, so it is given to the workers the primary forks
 * (`node:cluster`'s `execArgv`). A size the user gave Node (on the command line or in
 * `NODE_OPTIONS`), or a heap size (`--max-heap-size`, of which the young generation is part),
 * is left as it is; so is a machine or container with less than 1 GiB per worker, where V8's
 * own, smaller cap keeps the young generation in proportion to the memory.
 */

/** Megabytes per semi-space for the workers, unless the user chose (`--max-semi-space-size`). */
export const SEMI_SPACE_MIB = 32

/** Below this much memory per worker, V8's own cap is kept. */
export const MIN_MEMORY_PER_WORKER = 1024 ** 3

// V8 reads its flags with dashes or underscores alike; Node takes a V8 flag's value after `=`.
const USER_CHOICE = /^--max[-_](?:semi[-_]space|heap)[-_]size(?:=|$)/

/**
 * The Node flags for a worker: the primary's own, plus the young generation's size unless the
 * user sized the heap or there is less than 1 GiB of memory per worker.
 *
 * @example
 * ```ts
 * const memory = os.totalmem() / workers
 * cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS, memory) })
 * ```
 */
export function workerExecArgv(
  execArgv: readonly string[],
  nodeOptions = '',
  memoryPerWorker = Number.POSITIVE_INFINITY,
): string[] {
  // NODE_OPTIONS words may be quoted ("--max-semi-space-size=8"), as Node's own parser allows.
  const words = nodeOptions.split(/\s+/).map((w) => w.replace(/^["']|["']$/g, ''))
  const chosen = [...execArgv, ...words].some((arg) => USER_CHOICE.test(arg))
  if (chosen || memoryPerWorker < MIN_MEMORY_PER_WORKER) return [...execArgv]
  return [...execArgv, `--max-semi-space-size=${SEMI_SPACE_MIB}`]
}

/**
 * The memory this process may use: the container's limit (cgroup) when it has one below the
 * machine's memory, else the machine's.
 */
export function usableMemory(total: number, constrained: number | undefined): number {
  return constrained && constrained > 0 && constrained < total ? constrained : total
}
