import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseCli } from '../../src/cli/parse.js'
import { createVerifier } from '../../src/verify/verifier.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { makeTlsPki, servedCn, type TlsPki } from '../helpers/tls.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

/** The real CLI process; resolves with its listeners once it logs that it is ready. */
function gatewayProcess(args: string[]) {
  return new Promise<{ child: ChildProcess; ready: Record<string, string>; output: () => string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'gateway', ...args], {
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      const timer = setTimeout(() => reject(new Error(`gateway did not start: ${out}`)), 15_000)
      const onData = (d: Buffer) => {
        out += d
        const ready = out.split('\n').find((l) => l.includes('gateway ready'))
        if (ready) {
          clearTimeout(timer)
          resolve({ child, ready: JSON.parse(ready), output: () => out })
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', (d) => (out += d))
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`gateway exited with ${code}: ${out}`))
      })
    },
  )
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

function httpsPost(url: string, ca: string, servername: string, body: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpsRequest(url, { method: 'POST', ca, servername, agent: false }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const block = (pem: string, indent: string) =>
  `|\n${pem
    .trim()
    .split('\n')
    .map((l) => indent + l)
    .join('\n')}`

describe('gateway command with TLS on both sides (real processes)', () => {
  let dir: string
  let signing: Pki
  let pki: TlsPki
  let mtls: TestUpstream
  let untrusted: TestUpstream
  after(async () => {
    await mtls?.close()
    await untrusted?.close()
    await removeDir(dir)
  })
  before(async () => {
    dir = await makeTempDir()
    signing = await makePki(dir)
    pki = await makeTlsPki()
    mtls = await startUpstream({
      ...pki.server,
      ca: pki.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    })
    untrusted = await startUpstream({ ...pki.untrusted })
  })

  test('kong.yml with ca_certificates, certificates, tls_verify and client_certificate; clients through --listen-ssl', async () => {
    const file = join(dir, 'kong.yml')
    await writeFile(join(dir, 'default.pem'), pki.listenerDefault.cert)
    await writeFile(join(dir, 'default.key'), pki.listenerDefault.key, { mode: 0o600 })
    await writeFile(
      file,
      `_format_version: "3.0"
ca_certificates:
  - id: 2b2d6f43-5a0f-4d8e-9a55-0c1f6f6e0a01
    cert: ${block(pki.caPem, '      ')}
certificates:
  - id: 7d3c0a52-1b9e-4f7a-8c2d-3e4f5a6b7c01
    cert: ${block(pki.client.cert, '      ')}
    key: ${block(pki.client.key, '      ')}
  - id: 7d3c0a52-1b9e-4f7a-8c2d-3e4f5a6b7c02
    cert: ${block(pki.siteA.cert, '      ')}
    key: ${block(pki.siteA.key, '      ')}
    snis:
      - name: a.example.test
services:
  - name: orders
    url: ${mtls.url}
    tls_verify: true
    ca_certificates: [2b2d6f43-5a0f-4d8e-9a55-0c1f6f6e0a01]
    client_certificate: { id: 7d3c0a52-1b9e-4f7a-8c2d-3e4f5a6b7c01 }
    routes:
      - name: orders
        paths: ["/orders"]
plugins:
  - name: kong-upstream-jwt
    config:
      private_key_location: ${signing.files.key}
      public_key_location: ${signing.files.chain}
      algorithm: ES256
      bind_request: true
`,
    )
    const { child, ready, output } = await gatewayProcess([
      '--config',
      file,
      '--listen',
      '127.0.0.1:0',
      '--listen-ssl',
      '127.0.0.1:0',
      '--ssl-cert',
      join(dir, 'default.pem'),
      '--ssl-key',
      join(dir, 'default.key'),
      '--admin-listen',
      'off',
    ])
    try {
      assert.match(ready.proxy_ssl!, /^https:\/\/127\.0\.0\.1:\d+$/)
      const before = mtls.seen.length
      const res = await httpsPost(`${ready.proxy_ssl}/orders/1`, pki.caPem, 'a.example.test', 'hi')
      assert.equal(res.status, 200, output())
      const seen = mtls.seen[before]!
      assert.equal(
        seen.clientCert,
        'gateway-client',
        'the gateway presented its client certificate',
      )
      assert.equal(seen.headers['x-forwarded-proto'], 'https')
      const verifier = createVerifier({
        ca: signing.files.rootPem,
        audience: 'orders',
        requireBinding: true,
      })
      const { claims } = await verifier.verify({
        headers: seen.headers,
        method: 'POST',
        url: `${mtls.url}${seen.url}`,
        body: Buffer.from('hi'),
      })
      assert.equal(claims.htu, `${mtls.url}/1`, 'as forwarded: strip_path')
      await verifier.close()
    } finally {
      await stop(child)
    }
  })

  test('quick mode: --upstream-ca with --upstream-client-cert/-key; --no-upstream-tls-verify', async () => {
    const f = (name: string, text: string) =>
      writeFile(join(dir, name), text).then(() => join(dir, name))
    const ca = await f('ca.pem', pki.caPem)
    const cert = await f('client.pem', pki.client.cert)
    const key = await f('client.key', pki.client.key)
    const keys = ['--key', signing.files.key, '--cert', signing.files.chain, '--algorithm', 'ES256']
    const common = ['--listen', '127.0.0.1:0', '--admin-listen', 'off', ...keys]
    const a = await gatewayProcess([
      '--upstream',
      mtls.url,
      '--upstream-ca',
      ca,
      '--upstream-client-cert',
      cert,
      '--upstream-client-key',
      key,
      ...common,
    ])
    try {
      assert.equal((await fetch(`${a.ready.proxy}/x`)).status, 200, a.output())
      assert.equal(mtls.seen.at(-1)!.clientCert, 'gateway-client')
    } finally {
      await stop(a.child)
    }
    const b = await gatewayProcess([
      '--upstream',
      untrusted.url,
      '--no-upstream-tls-verify',
      ...common,
    ])
    try {
      assert.equal((await fetch(`${b.ready.proxy}/y`)).status, 200, b.output())
    } finally {
      await stop(b.child)
    }
    const c = await gatewayProcess(['--upstream', untrusted.url, ...common])
    try {
      const res = await fetch(`${c.ready.proxy}/z`)
      assert.equal(res.status, 502)
      const cause = new RegExp(`certificate untrusted.* from 127\\.0\\.0\\.1:${untrusted.port}`)
      // The log line may reach the pipe just after the response.
      for (let n = 0; n < 50 && !cause.test(c.output()); n++)
        await new Promise((r) => setTimeout(r, 20))
      assert.match(c.output(), cause)
    } finally {
      await stop(c.child)
    }
  })

  test('flag combinations that cannot work are usage errors', () => {
    const usage = (args: string[], pattern: RegExp) =>
      assert.throws(() => parseCli(['gateway', ...args]), pattern)
    usage(
      ['--config', 'k.yml', '--listen-ssl', '127.0.0.1:8443'],
      /--listen-ssl, --ssl-cert and --ssl-key go together/,
    )
    usage(['--config', 'k.yml', '--ssl-cert', 'c.pem', '--ssl-key', 'k.pem'], /go together/)
    usage(['--upstream', 'http://u', '--upstream-ca', 'ca.pem'], /need an https --upstream/)
    usage(['--upstream', 'https://u', '--upstream-client-cert', 'c.pem'], /go together/)
    usage(['--demo', '--listen-ssl', '127.0.0.1:0'], /not --demo/)
    const parsed = parseCli(['gateway', '--upstream', 'https://u', '--no-upstream-tls-verify'])
    assert.equal(parsed.kind === 'gateway' && parsed.input.upstreamTlsVerify, false)
  })

  test('--listen-ssl with --workers 2: every worker serves HTTPS; SIGHUP swaps the certificate in all, a bad one refused by all', async () => {
    const plain = await startUpstream()
    const cert = join(dir, 'workers.pem')
    const key = join(dir, 'workers.key')
    await writeFile(cert, pki.listenerDefault.cert)
    await writeFile(key, pki.listenerDefault.key, { mode: 0o600 })
    const gw = await gatewayProcess([
      ...['--upstream', plain.url, '--algorithm', 'ES256'],
      ...['--key', signing.files.key, '--cert', signing.files.chain],
      ...['--listen', '127.0.0.1:0', '--listen-ssl', '127.0.0.1:0'],
      ...['--ssl-cert', cert, '--ssl-key', key, '--admin-listen', 'off', '--workers', '2'],
    ])
    /** Resolves once the output has a line matching `re` after the first `from` characters. */
    const logged = async (re: RegExp, from: number) => {
      for (let i = 0; i < 200; i++) {
        const line = gw
          .output()
          .slice(from)
          .split('\n')
          .find((l) => re.test(l))
        if (line) return line
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error(`no line ${re} in: ${gw.output()}`)
    }
    // Certificates served to 4 new connections: round-robin gives each worker 2.
    const served = () =>
      Promise.all([1, 2, 3, 4].map(() => servedCn(gw.ready.proxy_ssl!, pki.caPem)))
    try {
      assert.match(gw.ready.proxy_ssl!, /^https:\/\/127\.0\.0\.1:\d+$/)
      assert.equal(Number(gw.ready.workers), 2)
      const before = plain.seen.length
      for (let i = 0; i < 6; i++) {
        const res = await httpsPost(`${gw.ready.proxy_ssl}/w${i}`, pki.caPem, 'default.test', 'hi')
        assert.equal(res.status, 200, gw.output())
      }
      const seen = plain.seen.slice(before)
      assert.equal(seen.length, 6)
      for (const s of seen) {
        assert.equal(s.headers['x-forwarded-proto'], 'https')
        assert.ok(s.headers.jwt, 'signed')
      }
      // The access lines of those requests come from both workers.
      const pids = new Set<number>()
      for (let i = 0; i < 6; i++) {
        const line = await logged(new RegExp(`"path":"/w${i}"`), 0)
        pids.add(JSON.parse(line).pid)
      }
      assert.equal(pids.size, 2, gw.output())

      assert.deepEqual(await served(), Array(4).fill('default.test'))
      await writeFile(cert, pki.siteA.cert)
      await writeFile(key, pki.siteA.key)
      let from = gw.output().length
      gw.child.kill('SIGHUP')
      assert.match(await logged(/workers reloaded/, from), /"ok":true/)
      assert.deepEqual(await served(), Array(4).fill('a.example.test'))
      // A key that does not match: refused before any worker reloads, the running pair kept.
      await writeFile(key, pki.siteB.key)
      from = gw.output().length
      gw.child.kill('SIGHUP')
      const refused = await logged(/refused by every worker/, from)
      assert.match(refused, /certificate does not match key/)
      assert.doesNotMatch(refused, /BEGIN/)
      assert.deepEqual(await served(), Array(4).fill('a.example.test'))
    } finally {
      await stop(gw.child)
      await plain.close()
    }
  })
})
