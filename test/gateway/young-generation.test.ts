import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  MIN_MEMORY_PER_WORKER,
  SEMI_SPACE_MIB,
  usableMemory,
  workerExecArgv,
} from '../../src/gateway/young-generation.js'

const GiB = 1024 ** 3

test("workers get the young generation's size after the primary's own flags", () => {
  assert.deepEqual(workerExecArgv([]), [`--max-semi-space-size=${SEMI_SPACE_MIB}`])
  assert.deepEqual(workerExecArgv(['--import', 'tsx'], '--enable-source-maps', 2 * GiB), [
    '--import',
    'tsx',
    '--max-semi-space-size=32',
  ])
  // Flags that merely look alike are not the user's choice of this one.
  assert.deepEqual(workerExecArgv(['--max-semi-space-sizes=4', '--min-semi-space-size=4']), [
    '--max-semi-space-sizes=4',
    '--min-semi-space-size=4',
    '--max-semi-space-size=32',
  ])
})

test('a size the user gave Node is kept, however it was spelled or passed', () => {
  for (const execArgv of [
    ['--max-semi-space-size=64'],
    ['--max_semi_space_size=64'],
    ['--inspect', '--max_semi-space_size=8'],
    // The whole heap's size: the young generation is part of it.
    ['--max-heap-size=256'],
  ])
    assert.deepEqual(workerExecArgv(execArgv), execArgv, execArgv.join(' '))
  assert.deepEqual(workerExecArgv(['--import', 'tsx'], '--trace-gc  --max-semi-space-size=16'), [
    '--import',
    'tsx',
  ])
  // Node's NODE_OPTIONS parser takes quoted words.
  assert.deepEqual(workerExecArgv([], '"--max-semi-space-size=8" --trace-gc'), [])
  assert.deepEqual(workerExecArgv([], "--trace-gc '--max_heap_size=512'"), [])
})

test("below 1 GiB per worker, V8's own cap is kept", () => {
  assert.deepEqual(workerExecArgv(['--trace-gc'], '', MIN_MEMORY_PER_WORKER - 1), ['--trace-gc'])
  assert.deepEqual(workerExecArgv([], '', MIN_MEMORY_PER_WORKER), ['--max-semi-space-size=32'])
})

test("the memory counted is the container's limit when it is below the machine's", () => {
  assert.equal(usableMemory(24 * GiB, 2 * GiB), 2 * GiB)
  // No limit: node reports 0, undefined or a number beyond the machine's memory.
  assert.equal(usableMemory(24 * GiB, 0), 24 * GiB)
  assert.equal(usableMemory(24 * GiB, undefined), 24 * GiB)
  assert.equal(usableMemory(24 * GiB, 2 ** 64), 24 * GiB)
})
