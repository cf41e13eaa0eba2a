/**
 * The plugin-server tests (test/kong/plugin.test.ts) once more with the plugin server, and so
 * the plugin, running on each Node a Kong image may have: 18.19.1 (kong:3.9's nodejs) and
 * 22.x. The `kong` commands under each Node are run from the packed tarball (dist.test.ts).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { NODE_VERSIONS, nodeBinary } from '../helpers/node-versions.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function runSuite(node: string): Promise<{ code: number | null; out: string }> {
  // Without the runner's own NODE_TEST_CONTEXT the child runs as a suite of its own.
  const env: NodeJS.ProcessEnv = { ...process.env, KONG_TEST_NODE: node }
  delete env.NODE_TEST_CONTEXT
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=tap', 'test/kong/plugin.test.ts'],
      {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, out }))
  })
}

describe('the plugin-server tests under each supported Node', { timeout: 600_000 }, () => {
  for (const version of NODE_VERSIONS) {
    test(`Node ${version}`, async () => {
      const node = await nodeBinary(version)
      const { code, out } = await runSuite(node)
      assert.equal(code, 0, out)
      assert.match(out, /^# fail 0$/m)
      const passed = Number(/^# pass (\d+)$/m.exec(out)?.[1])
      assert.ok(passed >= 15, `${passed} tests passed`)
    })
  }
})
