import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadVectors } from '../helpers/vectors.js'

// The verifiers in other languages (examples/verify-*) over every conformance vector. Each
// recipe's `run` builds what it needs on first use (Go binary, Java classes), so it is called
// once with every vector, then once per exit code. .ci/run installs their Debian packages. In CI
// (CI set) a missing toolchain fails here (exit 2 "cannot judge"); on a developer's machine
// without it, each test is skipped with the packages to install, and the summary counts them.

const run = promisify(execFile)
const vectors = loadVectors()
const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples')

interface Verdict {
  readonly outcome: string
  readonly code: string | undefined
}

async function judgeAll(runner: string): Promise<Map<string, Verdict>> {
  const files = vectors.map((v) => v.file)
  let stdout: string
  try {
    ;({ stdout } = await run(runner, files, { timeout: 300_000, maxBuffer: 16 << 20 }))
  } catch (err) {
    // Exit 1 ("some vector is invalid") is the expected status for the whole set.
    const e = err as { code?: number; stdout?: string; stderr?: string }
    if (e.code !== 1) throw new Error(`${runner} exited ${e.code}: ${e.stderr}${e.stdout}`)
    stdout = e.stdout ?? ''
  }
  const verdicts = new Map<string, Verdict>()
  for (const line of stdout.split('\n')) {
    const file = files.find((f) => line.startsWith(`${f}: `))
    if (!file) continue
    const [outcome = '', code] = line.slice(file.length + 2).split(' ')
    verdicts.set(file, { outcome, code })
  }
  return verdicts
}

async function exitCode(runner: string, ...files: string[]): Promise<number> {
  try {
    await run(runner, files, { timeout: 120_000 })
    return 0
  } catch (err) {
    return (err as { code?: number }).code ?? -1
  }
}

const succeeds = (command: string, ...args: string[]) =>
  spawnSync(command, args, { stdio: 'ignore' }).status === 0

/** The Debian packages a recipe needs, when its toolchain is missing here. */
const MISSING: Record<string, () => string | undefined> = {
  python: () =>
    succeeds('/usr/bin/python3', '-c', 'import jwt, cryptography, OpenSSL')
      ? undefined
      : 'python3-jwt python3-cryptography python3-openssl',
  go: () => (succeeds('go', 'version') ? undefined : 'golang-go'),
  java: () =>
    succeeds('javac', '-version') &&
    succeeds('java', '-version') &&
    existsSync('/usr/share/java/jackson-databind.jar')
      ? undefined
      : 'openjdk-17-jdk-headless libjackson2-databind-java',
}

function skipFor(language: string): string | false {
  const missing = MISSING[language]?.()
  if (!missing || process.env.CI) return false
  return `toolchain missing: apt-get install ${missing} (bash .ci/run installs it)`
}

for (const language of ['python', 'go', 'java']) {
  const runner = join(EXAMPLES, `verify-${language}`, 'run')
  const skip = skipFor(language)
  describe(`examples/verify-${language} agrees with every vector`, () => {
    let verdicts: Map<string, Verdict>
    before(async () => {
      if (!skip) verdicts = await judgeAll(runner)
    })

    for (const { file, vector } of vectors) {
      it(`${vector.name}: ${vector.expected}${vector.error ? ` (${vector.error})` : ''}`, {
        skip,
      }, () => {
        const verdict = verdicts.get(file)
        assert.ok(verdict, `no verdict for ${vector.name}`)
        assert.equal(verdict.outcome, vector.expected)
        assert.equal(verdict.code, vector.error ?? undefined)
      })
    }

    it('exits 0 for a valid token, 1 for an invalid one, 2 when it cannot judge', {
      skip,
    }, async () => {
      const pick = (name: string) => vectors.find((v) => v.vector.name === name)!.file
      assert.equal(await exitCode(runner, pick('valid-rs256')), 0)
      assert.equal(await exitCode(runner, pick('self-signed-leaf')), 1)
      assert.equal(await exitCode(runner, join(EXAMPLES, 'no-such-vector.json')), 2)
    })
  })
}

describe('examples/verify-go', () => {
  it('http.Handler wrapper passes its go test (real server, body restored, changed body refused)', {
    skip: skipFor('go'),
  }, async () => {
    const { stdout } = await run('go', ['test', '-count=1', './...'], {
      cwd: join(EXAMPLES, 'verify-go'),
      timeout: 300_000,
    })
    assert.match(stdout, /^ok\s+example\.com\/upstreamjwt\/upstreamjwt/m)
  })
})
