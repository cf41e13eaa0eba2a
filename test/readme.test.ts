import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { parseCli } from '../src/cli/parse.js'
import { digestBytes } from '../src/core/body-digest.js'
import { parseConfig } from '../src/gateway/config.js'
import { createSigner } from '../src/signer/signer.js'
import { createVerifier } from '../src/verify/verifier.js'
import { issue, makePki } from '../testing/pki.js'
import { tempDir } from '../testing/tmp.js'
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

/** The first ```sh block of a README section. */
function firstShellBlock(section: string): string {
  const start = readme.indexOf(`\n## ${section}\n`)
  assert.ok(start >= 0, `README has a "${section}" section`)
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))?.[1]
  assert.ok(block, `a sh block in "${section}"`)
  return block
}

test("the README's CLI walkthrough runs as written in an empty folder: keygen → sign → verify", async (t) => {
  const dir = await tempDir(t)
  const block = firstShellBlock('CLI')
  assert.match(block, /keygen[\s\S]*sign[\s\S]*verify/)
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
  // Resolved from the project: the empty folder has no node_modules.
  const tsx = import.meta.resolve('tsx')
  const script = [
    'set -euo pipefail',
    // The installed binary, as a function: the lines below run unchanged.
    `kong-upstream-jwt() { ${JSON.stringify(process.execPath)} --import ${JSON.stringify(tsx)} ${JSON.stringify(main)} "$@"; }`,
    block,
  ].join('\n')
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn('bash', ['-c', script], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    },
  )
  assert.equal(result.code, 0, result.stdout + result.stderr)
  assert.match(result.stdout, /^VALID$/m)
  assert.doesNotMatch(result.stdout, /WARN/, 'the walkthrough checks the audience')
  assert.match(result.stdout, /wrote .*ca\.pem/)
  assert.match(result.stdout, /"keys": \[/, 'jwks printed a JWK Set')
})

/** The options object of every verifier and middleware call in the README's TypeScript. */
function verifierOptionTexts(): string[] {
  const code = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').join('\n')
  const texts: string[] = []
  const call =
    /(?:createVerifier|upstreamJwt|koaUpstreamJwt|honoUpstreamJwt)\(\{|register\(fastifyUpstreamJwt, \{/g
  for (const m of code.matchAll(call)) {
    const open = (m.index ?? 0) + m[0].length - 1
    let depth = 0
    let end = open
    for (; end < code.length; end++) {
      if (code[end] === '{') depth++
      if (code[end] === '}' && --depth === 0) break
    }
    texts.push(code.slice(open, end + 1))
  }
  return texts
}

test("the README's verifier and middleware snippets check the audience: a token minted for another service is refused", async (t) => {
  const dir = await tempDir(t)
  const pki = await makePki(dir)
  const texts = verifierOptionTexts()
  assert.ok(texts.length >= 7, `found ${texts.length} snippets`)
  let evaluated = 0
  for (const text of texts) {
    assert.match(text, /\baudience:/, `README snippet without audience: ${text}`)
    let options: Record<string, unknown>
    try {
      options = new Function(`return (${text})`)() as Record<string, unknown>
    } catch {
      continue // refers to other code (e.g. a Redis client); the audience is there, checked above
    }
    evaluated++
    const issuer = options.issuer as string | undefined
    const signer = await createSigner(
      {
        private_key_location: pki.files.key,
        public_key_location: pki.files.chain,
        algorithm: 'ES256',
        ...(issuer ? { issuer } : {}),
      },
      { env: {} },
    )
    const verifier = createVerifier({ ...options, ca: pki.files.rootPem } as never)
    const request = async (service: string) => ({
      headers: { jwt: await signer.sign({ body: digestBytes('{}'), service: { name: service } }) },
      body: '{}',
    })
    await verifier.verify(await request(options.audience as string))
    await assert.rejects(verifier.verify(await request('some-other-service')), {
      code: 'ERR_CLAIM_INVALID',
      claim: 'aud',
    })
    signer.close()
  }
  assert.ok(evaluated >= 6, `evaluated ${evaluated} snippets`)
})
