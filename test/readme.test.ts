import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { parse } from 'yaml'
import { parseCli } from '../src/cli/parse.js'
import { parseConfig } from '../src/gateway/config.js'

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')

test('every kong.yml example in the README is a configuration the gateway accepts', () => {
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
  assert.ok(blocks.length >= 2)
  for (const block of blocks) assert.ok(parseConfig(parse(block)).routes.length > 0)
})

test('every CLI line in the README parses', () => {
  const lines = [...readme.matchAll(/^\s*(?:echo .*\| )?kong-upstream-jwt (.+)$/gm)].map(
    (m) => m[1] ?? '',
  )
  assert.ok(lines.length >= 5)
  for (const line of lines) {
    // Drop the optional-flag brackets and shell continuations of the synopsis lines.
    const words = line
      .replace(/\[[^\]]*\]/g, '')
      .replace(/\\$/, '')
      .replace(/"\$TOKEN"/g, 'a.b.c')
      .split(/\s+/)
      .filter(Boolean)
    assert.doesNotThrow(() => parseCli(words), line)
  }
})
