/**
 * The layering rules (.dependency-cruiser.cjs, run in CI by `npm run lint`) are shown to bite:
 * the real checker runs on a small tree written to a temp folder, once with imports that keep
 * to the layers and once with arrows against them, and must name each offending file and import.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../testing/tmp.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise')
const CONFIG = join(ROOT, '.dependency-cruiser.cjs')

async function tree(dir: string, files: Record<string, string>): Promise<void> {
  const all: Record<string, string> = {
    'tsconfig.json': JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
    }),
    ...files,
  }
  for (const [name, text] of Object.entries(all)) {
    await mkdir(dirname(join(dir, name)), { recursive: true })
    await writeFile(join(dir, name), text)
  }
}

function cruise(dir: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      DEPCRUISE,
      ['src', 'bench', '--config', CONFIG, '--output-type', 'err'],
      { cwd: dir },
      (err, stdout, stderr) => {
        const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0
        resolve({ code, output: stdout + stderr })
      },
    )
  })
}

const GOOD = {
  'src/core/errors.ts': 'export class E extends Error {}\n',
  'src/options/table.ts': "import { E } from '../core/errors.js'\nexport const x = E\n",
  'src/signer/signer.ts': "import { x } from '../options/table.js'\nexport const s = x\n",
  'src/verify/verifier.ts': "import { E } from '../core/errors.js'\nexport const v = E\n",
  'src/gateway/demo.ts': "import { v } from '../verify/verifier.js'\nexport const d = v\n",
  'src/gateway/proxy.ts': "import { s } from '../signer/signer.js'\nexport const p = s\n",
  'bench/sign.ts': "import { s } from '../src/signer/signer.js'\nexport const b = s\n",
}

test('a tree that keeps to the layers passes', async (t) => {
  const dir = await tempDir(t)
  await tree(dir, GOOD)
  const { code, output } = await cruise(dir)
  assert.equal(code, 0, output)
})

test('each arrow against the layers fails, naming the rule, the file and the import', async (t) => {
  const dir = await tempDir(t)
  await tree(dir, {
    ...GOOD,
    // core stands on nothing of ours
    'src/core/errors.ts':
      "import { s } from '../signer/signer.js'\nexport class E extends Error {}\nexport const c = s\n",
    // the verifier never imports the signer, not even a type
    'src/verify/verifier.ts':
      "import type { s } from '../signer/signer.js'\nexport type V = typeof s\nexport const v = 1\n",
    // only the gateway's demo may use the verifier
    'src/gateway/proxy.ts': "import { v } from '../verify/verifier.js'\nexport const p = v\n",
    // benchmarks share helpers through testing/, never test/
    'bench/sign.ts': "import { h } from '../test/helpers/h.js'\nexport const b = h\n",
    'test/helpers/h.ts': 'export const h = 1\n',
  })
  const { code, output } = await cruise(dir)
  assert.notEqual(code, 0, 'the checker must fail')
  const expected: [string, string, string][] = [
    ['core-imports-nothing-of-ours', 'src/core/errors.ts', 'src/signer/signer.ts'],
    ['verifier-never-imports-signer', 'src/verify/verifier.ts', 'src/signer/signer.ts'],
    ['gateway-uses-verifier-only-in-demo', 'src/gateway/proxy.ts', 'src/verify/verifier.ts'],
    ['bench-never-imports-tests', 'bench/sign.ts', 'test/helpers/h.ts'],
  ]
  for (const [rule, from, to] of expected) {
    assert.match(output, new RegExp(`error ${rule}: ${from} → ${to}`), `${rule}\n${output}`)
  }
  assert.doesNotMatch(output, /src\/gateway\/demo\.ts →/, 'the demo may use the verifier')
})
