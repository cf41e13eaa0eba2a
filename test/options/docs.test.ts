import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { optionsMarkdownTable } from '../../src/options/docs.js'
import { OPTIONS } from '../../src/options/table.js'

test('README carries the options table as generated from the options table (npm run docs)', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const table = optionsMarkdownTable()
  assert.ok(
    readme.includes(`<!-- options:start -->\n${table}\n<!-- options:end -->`),
    'run npm run docs',
  )
  for (const name of Object.keys(OPTIONS)) assert.match(table, new RegExp(`\\| \`${name}\` \\|`))
})
