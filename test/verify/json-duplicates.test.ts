import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { duplicateMember } from '../../src/verify/json-duplicates.js'

const cases: [string, string | undefined][] = [
  ['{"a":1,"b":2}', undefined],
  ['{"a":1,"a":2}', 'a'],
  ['{"a":{"x":1},"b":{"x":2}}', undefined],
  ['{"a":{"x":1,"x":2}}', 'x'],
  ['{"a":["a","a"],"b":"a"}', undefined],
  ['{"a\\u0062":1,"ab":2}', 'ab'],
  ['{"q\\"":1,"q\\"":2}', 'q"'],
  ['{"k":"{\\"k\\":1}","j":[{"k":1},{"k":1}]}', undefined],
  [' { "a" : 1 , "b" : [ { "c" : 1 , "c" : 2 } ] } ', 'c'],
  ['[]', undefined],
  ['{}', undefined],
]

for (const [json, expected] of cases) {
  test(`duplicateMember(${json})`, () => assert.equal(duplicateMember(json), expected))
}

test('property: no false positives on JSON.stringify output', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => duplicateMember(JSON.stringify(v)) === undefined))
})

test('property: a duplicated key anywhere is found', () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.string(), fc.jsonValue()),
      fc.string(),
      fc.jsonValue(),
      (obj, key, value) => {
        const text = JSON.stringify(obj)
        const member = `${JSON.stringify(key)}:${JSON.stringify(value)}`
        const doubled = `{${member},${member}${text === '{}' ? '' : `,${text.slice(1, -1)}`}}`
        assert.equal(duplicateMember(doubled), key)
      },
    ),
  )
})
