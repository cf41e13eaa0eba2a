import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AccessBatch } from '../../src/gateway/access-batch.js'

describe('AccessBatch', () => {
  test('holds lines below the limit, writes them joined and in order at the limit', () => {
    const writes: string[] = []
    const batch = new AccessBatch({ write: (s: string) => writes.push(s) }, 10)
    batch.push('aaaa\n')
    batch.push('bbb\n')
    assert.deepEqual(writes, [], 'nothing written below the limit')
    batch.push('c\n')
    assert.deepEqual(writes, ['aaaa\nbbb\nc\n'], 'one write at the limit')
    batch.push('d\n')
    batch.flush()
    batch.flush()
    assert.deepEqual(writes, ['aaaa\nbbb\nc\n', 'd\n'], 'flush writes the rest once')
  })

  test('a line longer than the limit is written at once', () => {
    const writes: string[] = []
    const batch = new AccessBatch({ write: (s: string) => writes.push(s) }, 4)
    batch.push('0123456789\n')
    assert.deepEqual(writes, ['0123456789\n'])
  })
})
