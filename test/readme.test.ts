import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { parse } from 'yaml'
import { parseCli } from '../src/cli/parse.js'
import { parseConfig } from '../src/gateway/config.js'
import { issue } from '../testing/pki.js'
import { pem } from './helpers/tls.js'

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')

/**
 * The README elides PEM bodies (`...`). They are filled with material made now: the first
 * certificate of a block (its ca_certificates entity) with a CA, every other certificate and
 * key with one leaf pair.
 */
async function withPems(block: string): Promise<string> {
  if (!block.includes('-----BEGIN')) return block
  const ca = await issue('README CA', 'ES256', undefined, { ca: true })
  const leaf = pem(await issue('readme', 'ES256', ca, { altNames: ['api.example.com'] }))
  const indentPem = (text: string, indent: string) =>
    text
      .trim()
      .split('\n')
      .map((l) => indent + l)
      .join('\n')
  let certs = 0
  return block.replace(
    /^( *)-----BEGIN (CERTIFICATE|PRIVATE KEY)-----\n *\.\.\.\n *-----END \2-----$/gm,
    (_, indent: string, kind: string) =>
      indentPem(
        kind === 'PRIVATE KEY' ? leaf.key : certs++ === 0 ? ca.cert.toString() : leaf.cert,
        indent,
      ),
  )
}

test('every kong.yml example in the README is a configuration the gateway accepts', async () => {
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
  assert.ok(blocks.length >= 3)
  for (const block of blocks) assert.ok(parseConfig(parse(await withPems(block))).routes.length > 0)
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
