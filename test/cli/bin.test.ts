/**
 * The binary sizes libuv's thread pool before any ES module loads (bin/kong-upstream-jwt.cjs):
 * the real file, run against a stand-in for dist/cli/main.js that reports what its process got,
 * so this holds without a build.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { threadPoolSize, workerThreadPoolSize } from '../../src/gateway/threadpool.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

const BIN = fileURLToPath(new URL('../../bin/kong-upstream-jwt.cjs', import.meta.url))
const exec = promisify(execFile)

// What the stand-in reports: the variable as the process saw it, and its threads once a job has
// run on the pool (libuv starts all of the pool's threads at once).
const STAND_IN = `import { pbkdf2 } from 'node:crypto'
import { readdirSync } from 'node:fs'
await new Promise((resolve) => pbkdf2('a', 'b', 1, 32, 'sha256', resolve))
console.log(JSON.stringify({
  size: process.env.UV_THREADPOOL_SIZE ?? null,
  chosen: process.env.KONG_UPSTREAM_JWT_THREADPOOL ?? null,
  threads: readdirSync('/proc/self/task').length,
}))
`

describe('bin/kong-upstream-jwt.cjs: the thread pool', () => {
  let dir: string
  let bin: string
  before(async () => {
    dir = await makeTempDir()
    await mkdir(join(dir, 'bin'))
    await mkdir(join(dir, 'dist', 'cli'), { recursive: true })
    bin = join(dir, 'bin', 'kong-upstream-jwt.cjs')
    await copyFile(BIN, bin)
    await writeFile(join(dir, 'package.json'), '{"type":"module"}\n')
    await writeFile(join(dir, 'dist', 'cli', 'main.js'), STAND_IN)
  })
  after(() => removeDir(dir))

  interface Seen {
    size: string | null
    chosen: string | null
    threads: number
  }
  async function run(size?: string, cpus?: string): Promise<Seen> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '' }
    if (size !== undefined) env.UV_THREADPOOL_SIZE = size
    // taskset: the cores the process may run on, which availableParallelism() counts.
    const [cmd, args] = cpus
      ? ['taskset', ['-c', cpus, process.execPath, bin]]
      : [process.execPath, [bin]]
    const { stdout } = await exec(cmd, args, { env, timeout: 30_000 })
    return JSON.parse(stdout)
  }

  test('unset: one thread per core the event loop leaves free, 1 to 4, and the pool has them', async () => {
    // The bin repeats workerThreadPoolSize(1, cores) (it cannot load it): the two must agree.
    const expected = workerThreadPoolSize(1, availableParallelism())
    const [auto, one, four] = await Promise.all([run(), run('1'), run('4')])
    assert.equal(auto.size, String(expected))
    assert.equal(auto.chosen, 'chosen', 'marked, so that the primary sizes its workers')
    // The thread counts tell the pool apart: 4 threads against 1 is 3 more.
    assert.equal(four.threads - one.threads, 3)
    assert.equal(auto.threads - one.threads, expected - 1)
  })

  test('on 2 cores: a pool of 1, set before the pool started (4 would be Node left alone)', async (t) => {
    if (availableParallelism() < 2) return t.skip('needs 2 cores')
    try {
      await exec('taskset', ['-c', '0', 'true'])
    } catch {
      if (process.env.CI) throw new Error('taskset (util-linux) is missing')
      return t.skip('taskset (util-linux) is missing')
    }
    const [two, four] = await Promise.all([run(undefined, '0,1'), run('4', '0,1')])
    assert.equal(two.size, '1')
    assert.equal(four.threads - two.threads, 3)
  })

  test("the user's UV_THREADPOOL_SIZE is kept, and not marked as chosen", async () => {
    // 7: a size the binary never chooses.
    const [r, one] = await Promise.all([run('7'), run('1')])
    assert.equal(r.size, '7')
    assert.equal(r.chosen, null)
    assert.equal(r.threads - one.threads, 6)
  })
})

test('threadPoolSize reads UV_THREADPOOL_SIZE as libuv does', () => {
  assert.equal(threadPoolSize({}), 4)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '1' }), 1)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '12' }), 12)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '0' }), 1)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: 'many' }), 1)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '5000' }), 1024)
  // atoi into an unsigned int: a negative number wraps round to more than the maximum.
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '-1' }), 1024)
})

test("workerThreadPoolSize shares the loops' free cores among the workers, 1 to 4 each", () => {
  assert.equal(workerThreadPoolSize(1, 2), 1)
  assert.equal(workerThreadPoolSize(2, 2), 1)
  assert.equal(workerThreadPoolSize(1, 8), 4)
  assert.equal(workerThreadPoolSize(2, 8), 3)
  assert.equal(workerThreadPoolSize(3, 4), 1)
  assert.equal(workerThreadPoolSize(4, 4), 1)
  assert.equal(workerThreadPoolSize(2, 64), 4)
  // An RSA key: one thread more where each worker has a free core (and signs on the pool).
  assert.equal(workerThreadPoolSize(1, 2, true), 2)
  assert.equal(workerThreadPoolSize(2, 4, true), 2)
  assert.equal(workerThreadPoolSize(1, 8, true), 4)
  assert.equal(workerThreadPoolSize(2, 2, true), 1)
  assert.equal(workerThreadPoolSize(3, 4, true), 1)
})
