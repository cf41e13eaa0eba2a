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
import { threadPoolSize } from '../../src/gateway/threadpool.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

const BIN = fileURLToPath(new URL('../../bin/kong-upstream-jwt.cjs', import.meta.url))
const exec = promisify(execFile)

// What the stand-in reports: the variable as the process saw it, and its threads once a job has
// run on the pool (libuv starts all of the pool's threads at once).
const STAND_IN = `import { pbkdf2 } from 'node:crypto'
import { readdirSync } from 'node:fs'
await new Promise((resolve) => pbkdf2('a', 'b', 1, 32, 'sha256', resolve))
console.log(JSON.stringify({ size: process.env.UV_THREADPOOL_SIZE ?? null, threads: readdirSync('/proc/self/task').length }))
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

  async function run(size?: string): Promise<{ size: string | null; threads: number }> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '' }
    if (size !== undefined) env.UV_THREADPOOL_SIZE = size
    const { stdout } = await exec(process.execPath, [bin], { env })
    return JSON.parse(stdout)
  }

  test('unset: one thread per core the event loop leaves free, 1 to 4, and the pool has them', async () => {
    const expected = Math.min(4, Math.max(1, availableParallelism() - 1))
    const [auto, one, four] = await Promise.all([run(), run('1'), run('4')])
    assert.equal(auto.size, String(expected))
    // The thread counts tell the pool apart: 4 threads against 1 is 3 more.
    assert.equal(four.threads - one.threads, 3)
    assert.equal(auto.threads - one.threads, expected - 1)
  })

  test("the user's UV_THREADPOOL_SIZE is kept", async () => {
    const r = await run('3')
    assert.equal(r.size, '3')
    assert.equal(r.threads - (await run('1')).threads, 2)
  })
})

test('threadPoolSize reads UV_THREADPOOL_SIZE as libuv does', () => {
  assert.equal(threadPoolSize({}), 4)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '1' }), 1)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '12' }), 12)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '0' }), 1)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: 'many' }), 1)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '5000' }), 1024)
})
