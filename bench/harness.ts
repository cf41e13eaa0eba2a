/** A tiny benchmark harness: time-boxed runs, interleaved rounds, medians, ratio tables. */

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 1)
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32)

export type Op = () => Promise<unknown> | unknown

/** Runs `op` for SECONDS with `concurrency` calls in flight; returns operations per second. */
export async function rate(op: Op, concurrency: number): Promise<number> {
  const end = performance.now() + SECONDS * 1000
  let count = 0
  const worker = async () => {
    while (performance.now() < end) {
      await op()
      count++
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  return (count * 1000) / (performance.now() - start)
}

/** Median over ROUNDS, the contenders interleaved so drift hits all alike. */
export async function compare(
  ops: Record<string, Op>,
  concurrency: number,
): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {}
  for (const [name, op] of Object.entries(ops)) {
    await rate(op, concurrency) // warm-up
    samples[name] = []
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, op] of Object.entries(ops)) samples[name]?.push(await rate(op, concurrency))
  }
  return Object.fromEntries(
    Object.entries(samples).map(([n, s]) => [
      n,
      s.sort((a, b) => a - b)[Math.floor(s.length / 2)] ?? 0,
    ]),
  )
}

/** Prints one table: a row per contender, with `ours` divided by each other one. */
export function table(
  title: string,
  unit: string,
  results: Record<string, number>,
  ours: string,
  scale = 1,
): void {
  const us = results[ours] ?? 0
  console.log(`\n${title}    ${unit}   ours vs`)
  for (const [name, value] of Object.entries(results)) {
    const ratio = name === ours ? '' : `${(us / value).toFixed(2)}x`.padStart(7)
    console.log(`  ${name.padEnd(34)} ${(value * scale).toFixed(0).padStart(8)}  ${ratio}`)
  }
}
