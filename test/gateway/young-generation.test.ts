import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SEMI_SPACE_MIB, workerExecArgv } from '../../src/gateway/young-generation.js'

test("workers get the young generation's size after the primary's own flags", () => {
  assert.deepEqual(workerExecArgv([]), [`--max-semi-space-size=${SEMI_SPACE_MIB}`])
  assert.deepEqual(workerExecArgv(['--import', 'tsx'], '--enable-source-maps'), [
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
    ['--max-semi-space-size', '64'],
    ['--inspect', '--max_semi-space_size=8'],
  ])
    assert.deepEqual(workerExecArgv(execArgv), execArgv, execArgv.join(' '))
  assert.deepEqual(workerExecArgv(['--import', 'tsx'], '--trace-gc  --max-semi-space-size=16'), [
    '--import',
    'tsx',
  ])
  assert.deepEqual(workerExecArgv([], '--max_semi_space_size 16'), [])
})
