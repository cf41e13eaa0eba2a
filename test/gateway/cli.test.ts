import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { signOnFor } from '../../src/cli/commands/gateway.js'
import { parseCli } from '../../src/cli/parse.js'
import { startDemo } from '../../src/gateway/demo.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

/** Starts the real CLI process and resolves once it logs that it is ready. */
function gatewayProcess(
  args: string[],
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'gateway', ...args], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${out}`)), 15_000)
    child.stdout?.on('data', (d) => {
      out += d
      const ready = out.split('\n').find((l) => l.includes('gateway ready'))
      if (ready) {
        clearTimeout(timer)
        resolve({ child, url: JSON.parse(ready).proxy, output: () => out })
      }
    })
    child.stderr?.on('data', (d) => {
      out += d
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`gateway exited with ${code}: ${out}`))
    })
  })
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => child.once('exit', (code) => r(code)))
}

describe('gateway command', () => {
  let dir: string
  let pki: Pki
  let upstream: TestUpstream
  after(async () => {
    await upstream?.close()
    await removeDir(dir)
  })
  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    upstream = await startUpstream()
  })
  /** One ES256-signed service at the test upstream, routed on `path`. */
  const yml = (path: string) => `_format_version: "3.0"
services:
  - name: orders
    url: ${upstream.url}
    routes:
      - name: r
        paths: ["${path}"]
plugins:
  - name: kong-upstream-jwt
    config:
      private_key_location: ${pki.files.key}
      public_key_location: ${pki.files.chain}
      algorithm: ES256
`
  /** The real process on a kong.yml, on a free port, without the admin listener. */
  const fromConfig = (file: string, ...more: string[]) =>
    gatewayProcess(['--config', file, '--listen', '127.0.0.1:0', '--admin-listen', 'off', ...more])

  test('parses sizes, listeners and modes', () => {
    const c = parseCli([
      'gateway',
      '--upstream',
      'http://u',
      '--key',
      'k',
      '--cert',
      'c',
      '--listen',
      '127.0.0.1:9000',
      '--admin-listen',
      'off',
      '--client-body-buffer-size',
      '8k',
      '--client-max-body-size',
      '10m',
    ])
    assert.equal(c.kind, 'gateway')
    if (c.kind !== 'gateway') return
    assert.deepEqual(c.input.listen, { host: '127.0.0.1', port: 9000 })
    assert.equal(c.input.adminListen, false)
    assert.equal(c.input.clientBodyBufferSize, 8192)
    assert.equal(c.input.clientMaxBodySize, 10 * 1024 * 1024)
    assert.equal(c.input.logLevel, 'info')
    assert.equal(c.input.signOn, 'auto')
    assert.throws(
      () => parseCli(['gateway', '--demo', '--log-level', 'loud']),
      /Allowed choices are trace/,
    )
    const loop = parseCli(['gateway', '--demo', '--sign-on', 'loop'])
    assert.equal(loop.kind === 'gateway' && loop.input.signOn, 'loop')
    assert.throws(
      () => parseCli(['gateway', '--demo', '--sign-on', 'gpu']),
      /Allowed choices are auto, loop, pool/,
    )
    assert.deepEqual(c.input.signer, { private_key_location: 'k', public_key_location: 'c' })
    assert.throws(() => parseCli(['gateway']), /exactly one of --config/)
    assert.throws(
      () => parseCli(['gateway', '--demo', '--upstream', 'http://u']),
      /exactly one of --config/,
    )
    assert.throws(() => parseCli(['gateway', '--demo', '--listen', 'nope']), /HOST:PORT/)
  })

  test('the real process: serves, reloads on SIGHUP, drains and exits 0 on SIGTERM', async () => {
    const file = join(dir, 'kong.yml')
    await writeFile(file, yml('/one'))
    const { child, url, output } = await fromConfig(file)
    try {
      assert.equal((await fetch(`${url}/one`)).status, 200)
      await writeFile(file, yml('/two'))
      child.kill('SIGHUP')
      let status = 0
      for (let i = 0; i < 50 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100))
        status = (await fetch(`${url}/two`)).status
      }
      assert.equal(status, 200, output())
      upstream.delay = 400
      const inflight = fetch(`${url}/two`)
      await new Promise((r) => setTimeout(r, 150))
      const exit = exited(child)
      child.kill('SIGTERM')
      assert.equal((await inflight).status, 200, 'the in-flight request finished')
      assert.equal(await exit, 0)
      assert.match(output(), /"drained":true/)
    } finally {
      upstream.delay = 0
      child.kill('SIGKILL')
    }
  })

  test('access lines are batched, yet every line keeps its place: requests, reload, requests, stop', async () => {
    const file = join(dir, 'order.yml')
    await writeFile(file, yml('/'))
    const { child, url, output } = await fromConfig(file, '--workers', '1')
    try {
      for (const p of ['/before-1', '/before-2', '/before-3'])
        assert.equal((await fetch(url + p)).status, 200)
      child.kill('SIGHUP')
      for (let i = 0; i < 50 && !output().includes('configuration reloaded'); i++)
        await new Promise((r) => setTimeout(r, 50))
      for (const p of ['/after-1', '/after-2']) assert.equal((await fetch(url + p)).status, 200)
      const exit = exited(child)
      child.kill('SIGTERM')
      assert.equal(await exit, 0)
      const lines = output()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg: string; path?: string; pid: number })
      // The worker's own lines, in the order it wrote them (the primary writes its own).
      const worker = lines.find((l) => l.msg === 'request')!.pid
      const order = lines
        .filter((l) => l.pid === worker)
        .map((l) => (l.msg === 'request' ? l.path : l.msg))
        .filter((m) => m !== 'kong-upstream-jwt worker ready')
      assert.deepEqual(order, [
        '/before-1',
        '/before-2',
        '/before-3',
        'configuration reloaded',
        '/after-1',
        '/after-2',
        'kong-upstream-jwt worker stopped',
      ])
    } finally {
      child.kill('SIGKILL')
    }
  })

  test('--sign-on auto: own-core when every core has a worker, the pool when every worker has a free core', () => {
    assert.equal(signOnFor('auto', 2, 2), 'own-core')
    assert.equal(signOnFor('auto', 4, 2), 'own-core')
    assert.equal(signOnFor('auto', 1, 1), 'own-core')
    assert.equal(signOnFor('auto', 1, 2), 'pool')
    assert.equal(signOnFor('auto', 2, 4), 'pool')
    assert.equal(signOnFor('auto', 3, 8), 'pool')
    // More workers than free cores: ES256 and Ed25519 on the loops, slower keys on the pool.
    assert.equal(signOnFor('auto', 3, 4), 'auto')
    assert.equal(signOnFor('auto', 7, 8), 'auto')
    assert.equal(signOnFor('pool', 2, 2), 'pool')
    assert.equal(signOnFor('loop', 1, 8), 'loop')
  })

  test('quick mode: --upstream with --key/--cert and signer flags', async () => {
    const { child, url } = await gatewayProcess([
      '--upstream',
      upstream.url,
      '--key',
      pki.files.key,
      '--cert',
      pki.files.chain,
      '--algorithm',
      'ES256',
      '--header',
      'X-Gateway-JWT',
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      'off',
    ])
    try {
      assert.equal((await fetch(`${url}/anything?x=1`)).status, 200)
      const seen = upstream.seen.at(-1)!
      assert.equal(seen.url, '/anything?x=1')
      assert.match(String(seen.headers['x-gateway-jwt']), /^[\w-]+\.[\w-]+\.[\w-]+$/)
    } finally {
      const exit = exited(child)
      child.kill('SIGTERM')
      assert.equal(await exit, 0)
    }
  })

  test('a bad configuration: the process exits 1 with the reason', async () => {
    const file = join(dir, 'bad.yml')
    await writeFile(
      file,
      '_format_version: "3.0"\nservices:\n  - name: s\n    url: http://x\n    routes: [{ paths: ["/"] }]\n',
    )
    await assert.rejects(
      gatewayProcess(['--config', file, '--listen', '127.0.0.1:0']),
      /exited with 1: .*no enabled kong-upstream-jwt plugin applies/s,
    )
  })

  test('the demo answers a request with a verified result', async (t) => {
    const state = join(dir, 'demo-state')
    const lines: string[] = []
    const demo = await startDemo({
      stateDir: state,
      listen: { host: '127.0.0.1', port: 0 },
      adminListen: { host: '127.0.0.1', port: 0 },
      logger: pino({ level: 'silent' }),
      print: (l) => lines.push(l),
    })
    t.after(() => demo.close())
    assert.ok(lines.some((l) => /made a throwaway CA .*for development only/.test(l)))
    assert.ok(lines.some((l) => l.includes(`curl -s -X POST ${demo.gateway.url}/orders`)))
    const res = await fetch(`${demo.gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"id":42}',
    })
    const result = (await res.json()) as { verified: boolean; claims: Record<string, unknown> }
    assert.equal(res.status, 200)
    assert.equal(result.verified, true)
    assert.equal(result.claims.iss, 'kong-upstream-jwt-demo')
    const privateRes = await fetch(`${demo.gateway.url}/private/me`, {
      headers: { apikey: 'demo-key' },
    })
    assert.equal(
      ((await privateRes.json()) as { claims: { consumername: string } }).claims.consumername,
      'demo-user',
    )
  })
})
