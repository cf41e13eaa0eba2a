import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { workerThreadPoolSize } from '../../src/gateway/threadpool.js'
import { replacementListenArgs } from '../../src/gateway/workers.js'
import { writeKeys } from '../../testing/keys.js'
import { makePki, type Pki } from '../../testing/pki.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { signingPlugin } from '../helpers/gateway-io.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

interface Line {
  level: number
  pid: number
  msg: string
  proxy?: string
  admin?: string
  workers?: number
  status?: number
  path?: string
  sign_on?: string
  threadpool?: number
}

/** The gateway CLI with --workers, as a real process tree; its log lines parsed. */
class Running {
  readonly lines: Line[] = []
  readonly child: ChildProcess
  exitCode: Promise<number | null>
  constructor(args: string[], options: { detached?: boolean; env?: NodeJS.ProcessEnv } = {}) {
    this.child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'gateway', ...args], {
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached === true,
    })
    let buffered = ''
    this.child.stdout?.on('data', (d) => {
      buffered += d
      const parts = buffered.split('\n')
      buffered = parts.pop() ?? ''
      for (const p of parts) if (p.startsWith('{')) this.lines.push(JSON.parse(p))
    })
    this.child.stderr?.resume()
    this.exitCode = new Promise((r) => this.child.once('exit', (code) => r(code)))
  }
  async waitFor(what: string, predicate: (l: Line) => boolean, ms = 30_000): Promise<Line> {
    const end = Date.now() + ms
    while (Date.now() < end) {
      const found = this.lines.find(predicate)
      if (found) return found
      if (this.child.exitCode !== null) break
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error(`no log line: ${what}; log: ${JSON.stringify(this.lines.slice(-5))}`)
  }
  /** The worker pids: the primary's child processes. */
  workerPids(): number[] {
    const pid = this.child.pid!
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
  }
  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.kill('SIGTERM')
      await this.exitCode
    }
  }
}

/** One request on a fresh connection (so the kernel may pick either worker). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Waits until the upstream has the request: it is in flight in a worker, not in a backlog. */
async function reachedUpstream(upstream: TestUpstream, before: number): Promise<void> {
  for (let i = 0; i < 500 && upstream.seen.length === before; i++) {
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.ok(upstream.seen.length > before, 'the request reached the upstream')
}

describe('--workers: real processes sharing the listener', () => {
  let dir: string
  let pki: Pki
  let upstream: TestUpstream
  let file: string
  let gw: Running
  let readySince: number
  let startedWith: number[]
  let proxy: string
  let admin: string
  const config = (paths: string[]) => ({
    _format_version: '3.0',
    services: [
      {
        name: 'svc',
        url: upstream.url,
        routes: paths.map((p, i) => ({ name: `r${i}`, paths: [p] })),
      },
    ],
    plugins: [signingPlugin(pki)],
  })

  before(async () => {
    dir = await makeTempDir()
    pki = await makePki(dir)
    upstream = await startUpstream()
    file = join(dir, 'kong.yml')
    await writeFile(file, JSON.stringify(config(['/a'])))
    // As the binary leaves the environment when it chose the pool's size (here one it never
    // chooses, so the workers' own size is told apart from the primary's).
    gw = new Running(
      [
        '--config',
        file,
        '--workers',
        '2',
        '--listen',
        '127.0.0.1:0',
        '--admin-listen',
        '127.0.0.1:0',
      ],
      { env: { UV_THREADPOOL_SIZE: '9', KONG_UPSTREAM_JWT_THREADPOOL: 'chosen' } },
    )
    const ready = await gw.waitFor('primary ready', (l) => l.workers === 2 && !!l.admin)
    readySince = Date.now()
    startedWith = gw.workerPids()
    proxy = ready.proxy!
    admin = ready.admin!
    // --sign-on auto: a worker per core (or more) signs quick keys on its loop; a free core for
    // each worker: the pool; in between (3 cores), the signer's rule.
    const cores = availableParallelism()
    assert.equal(ready.sign_on, cores <= 2 ? 'own-core' : cores === 3 ? 'auto' : 'pool')
    assert.equal(ready.threadpool, 9)
    const workerReady = await gw.waitFor(
      'worker ready',
      (l) => l.msg === 'kong-upstream-jwt worker ready',
    )
    assert.equal(workerReady.sign_on, ready.sign_on, 'the workers sign where the primary says')
    // Each worker's pool: its share of the cores the two loops leave free, 1 to 4.
    assert.equal(workerReady.threadpool, Math.min(4, Math.max(1, Math.floor((cores - 2) / 2))))
  })

  /** Node's own command line of each worker, as `ps` shows it. */
  const workerArgv = (running: Running) =>
    running.workerPids().map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))
  after(async () => {
    await gw?.stop()
    await upstream?.close()
    await removeDir(dir)
  })

  test("every worker starts with the young generation's size; the primary's own flags first", () => {
    const argvs = workerArgv(gw)
    assert.equal(argvs.length, 2)
    for (const argv of argvs) {
      assert.ok(argv.includes('--max-semi-space-size=32'), argv.join(' '))
      // The primary runs under tsx here, and so does each worker.
      assert.ok(argv.includes('tsx'), argv.join(' '))
      assert.ok(argv.indexOf('tsx') < argv.indexOf('--max-semi-space-size=32'), argv.join(' '))
    }
  })

  /**
   * Another gateway of two workers, started with `env`, once both workers said they are ready;
   * `ready` gives their ready lines.
   */
  const twoWorkers = async (env: NodeJS.ProcessEnv) => {
    const own = new Running(
      ['--config', file, '--workers', '2', '--listen', '127.0.0.1:0', '--admin-listen', 'off'],
      { env },
    )
    const ready = () => own.lines.filter((l) => l.msg === 'kong-upstream-jwt worker ready')
    try {
      await own.waitFor('both workers ready', () => ready().length === 2)
    } catch (err) {
      await own.stop()
      throw err
    }
    return { own, ready }
  }

  test('a young generation size the user gave in NODE_OPTIONS is left to Node', async () => {
    const { own } = await twoWorkers({ NODE_OPTIONS: '--max-semi-space-size=8' })
    try {
      const argvs = workerArgv(own)
      assert.equal(argvs.length, 2)
      for (const argv of argvs)
        assert.ok(!argv.some((a) => a.includes('semi-space')), argv.join(' '))
    } finally {
      await own.stop()
    }
  })

  test('--workers 1: one worker under the primary, which replaces it when it dies', async () => {
    const one = new Running([
      '--config',
      file,
      '--workers',
      '1',
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      'off',
    ])
    try {
      const ready = await one.waitFor('primary ready', (l) => l.workers === 1 && !!l.proxy)
      const [first] = one.workerPids()
      assert.ok(first, 'a worker process')
      assert.equal((await get(`${ready.proxy}/a`)).status, 200)
      process.kill(first, 'SIGKILL')
      await one.waitFor('worker died', (l) => /worker died/.test(l.msg))
      await one.waitFor(
        'replacement ready',
        (l) => l.msg === 'kong-upstream-jwt worker ready' && l.pid !== first,
      )
      assert.equal((await get(`${ready.proxy}/a`)).status, 200, 'the replacement serves')
      assert.equal(one.workerPids().length, 1)
    } finally {
      await one.stop()
    }
  })

  test('a worker that cannot start is retried ever more slowly; /status and the JWKS say 503 meanwhile', async () => {
    const key = join(dir, 'retry-key.pem')
    await writeFile(key, readFileSync(pki.files.key))
    const retry = join(dir, 'retry.yml')
    const c = config(['/a'])
    c.plugins[0]!.config.private_key_location = key
    await writeFile(retry, JSON.stringify(c))
    const one = new Running([
      '--config',
      retry,
      '--workers',
      '1',
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
    ])
    try {
      const ready = await one.waitFor('primary ready', (l) => l.workers === 1 && !!l.admin)
      const statusOf = async () => (await get(`${ready.admin}/status`)).status
      assert.equal(await statusOf(), 200)
      const [first] = one.workerPids()
      await rm(key)
      process.kill(first!, 'SIGKILL')
      const deaths = () =>
        one.lines.filter((l) => /worker died/.test(l.msg)) as Array<
          Line & { restart_in_ms: number }
        >
      await one.waitFor('three deaths', () => deaths().length >= 3)
      // The first replacement at once, then 250 ms, 500 ms, … before each next one.
      assert.deepEqual(
        deaths()
          .slice(0, 3)
          .map((l) => l.restart_in_ms),
        [0, 250, 500],
      )
      assert.equal(await statusOf(), 503)
      const jwks = await get(`${ready.admin}/.well-known/jwks.json`)
      assert.equal(jwks.status, 503, 'no empty key set for a verifier to cache')
      await writeFile(key, readFileSync(pki.files.key))
      await one.waitFor(
        'a replacement ready',
        (l) => l.msg === 'kong-upstream-jwt worker ready' && l.pid !== first,
      )
      assert.equal(await statusOf(), 200)
      assert.equal((await get(`${ready.proxy}/a`)).status, 200)
    } finally {
      await one.stop()
    }
  })

  test('with an RSA key each worker with a free core gets one pool thread more', async () => {
    const rsa = await writeKeys(dir, 'RS256', { name: 'pool-rsa' })
    const one = new Running(
      [
        '--upstream',
        upstream.url,
        '--key',
        rsa.key,
        '--cert',
        rsa.certPem,
        '--algorithm',
        'RS256',
        '--workers',
        '1',
        '--listen',
        '127.0.0.1:0',
        '--admin-listen',
        'off',
      ],
      { env: { UV_THREADPOOL_SIZE: '9', KONG_UPSTREAM_JWT_THREADPOOL: 'chosen' } },
    )
    try {
      const worker = await one.waitFor(
        'worker ready',
        (l) => l.msg === 'kong-upstream-jwt worker ready',
      )
      const cores = availableParallelism()
      assert.equal(worker.threadpool, workerThreadPoolSize(1, cores, true))
      // 2 cores (CI): 2 threads, where an ES256 key gets 1.
      if (cores === 2) assert.equal(worker.threadpool, 2)
    } finally {
      await one.stop()
    }
  })

  test('a pool size the user set reaches every worker as it is', async () => {
    const { own, ready } = await twoWorkers({ UV_THREADPOOL_SIZE: '3' })
    try {
      assert.deepEqual(
        ready().map((l) => l.threadpool),
        [3, 3],
      )
    } finally {
      await own.stop()
    }
  })

  test('/metrics and /status add up every worker; the JWKS is the same on every call', async () => {
    let sent = 0
    // Fresh connections until both workers have served some (the kernel picks).
    while (sent < 400) {
      assert.equal((await get(`${proxy}/a/${sent}`)).status, 200)
      sent++
      const pids = new Set(gw.lines.filter((l) => l.msg === 'request').map((l) => l.pid))
      if (sent >= 10 && pids.size === 2) break
    }
    await gw.waitFor(
      'every access line',
      () => gw.lines.filter((l) => l.msg === 'request').length === sent,
    )
    const servedBy = new Set(gw.lines.filter((l) => l.msg === 'request').map((l) => l.pid))
    assert.equal(servedBy.size, 2, 'both workers served requests')
    const metrics = (await get(`${admin}/metrics`)).body
    const m =
      /kong_upstream_jwt_requests_total\{service="svc",route="r0",status="200"\} (\d+)/.exec(
        metrics,
      )
    assert.equal(Number(m?.[1]), sent, 'the sum over both workers')
    const status = JSON.parse((await get(`${admin}/status`)).body)
    assert.equal(status.workers, 2)
    assert.equal(status.requests.total, sent)
    const jwks = (await get(`${admin}/.well-known/jwks.json`)).body
    for (let i = 0; i < 5; i++)
      assert.equal((await get(`${admin}/.well-known/jwks.json`)).body, jwks)
    assert.equal(JSON.parse(jwks).keys.length, 1)
  })

  test('new connections are dealt to the workers in turn (round-robin), not left to the kernel', async () => {
    // With the kernel's way (a shared socket) the first worker awake takes the connection:
    // twelve in a row alternate by chance once in 2,048 runs.
    const paths = Array.from({ length: 12 }, (_, i) => `/a/turn-${i}`)
    for (const p of paths) assert.equal((await get(proxy + p)).status, 200)
    await gw.waitFor('the twelve access lines', () =>
      paths.every((p) => gw.lines.some((l) => l.path === p)),
    )
    const pids = paths.map((p) => gw.lines.find((l) => l.path === p)!.pid)
    for (let i = 1; i < pids.length; i++)
      assert.notEqual(pids[i], pids[i - 1], `connection ${i} went to the other worker: ${pids}`)
  })

  test('SIGHUP reloads every worker; a bad configuration is refused by all and the running one kept', async () => {
    await writeFile(file, '_format_version: "3.0"\nservices: [ {name: broken')
    gw.child.kill('SIGHUP')
    await gw.waitFor('refused', (l) => /refused by every worker/.test(l.msg))
    for (let i = 0; i < 10; i++) assert.equal((await get(`${proxy}/a/still`)).status, 200)

    await writeFile(file, JSON.stringify(config(['/b'])))
    gw.child.kill('SIGHUP')
    await gw.waitFor(
      'reloaded',
      (l) => l.msg === 'workers reloaded' && (l as { ok?: boolean }).ok === true,
    )
    for (let i = 0; i < 10; i++) {
      assert.equal((await get(`${proxy}/b/${i}`)).status, 200, 'the new route on every worker')
      assert.equal((await get(`${proxy}/a/${i}`)).status, 404, 'the old route gone on every worker')
    }
  })

  test('a change of the config file reloads every worker without a signal', async () => {
    await writeFile(file, JSON.stringify(config(['/b', '/c'])))
    // The file is polled (1 s); an earlier write may reload first, so wait for the new route.
    const end = Date.now() + 20_000
    while (Date.now() < end && (await get(`${proxy}/c/probe`)).status !== 200) {
      await new Promise((r) => setTimeout(r, 100))
    }
    for (let i = 0; i < 10; i++) assert.equal((await get(`${proxy}/c/${i}`)).status, 200)
    assert.ok(gw.lines.some((l) => l.msg === 'workers reloaded'))
  })

  /** Waits until `/status` counts two live workers again, `dead` no longer among them. */
  const replacedBy2 = async (dead: number) => {
    const end = Date.now() + 30_000
    let workers = 0
    while (Date.now() < end) {
      workers = JSON.parse((await get(`${admin}/status`)).body).workers
      if (workers === 2 && !gw.workerPids().includes(dead)) break
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(workers, 2)
    assert.ok(!gw.workerPids().includes(dead))
  }

  test('a worker that dies is logged and replaced; the other carries on', async () => {
    const [victim] = gw.workerPids()
    assert.ok(victim)
    process.kill(victim, 'SIGKILL')
    const died = await gw.waitFor('worker died', (l) => /worker died/.test(l.msg))
    assert.equal(died.level, 50)
    assert.equal(died.pid, gw.child.pid, 'logged by the primary')
    assert.equal((died as { worker_pid?: number }).worker_pid, victim)
    // Requests go on; the replacement comes up.
    for (let i = 0; i < 10; i++) assert.equal((await get(`${proxy}/b/${i}`)).status, 200)
    await replacedBy2(victim)
  })

  test('a worker the gateway started, dying after 10 s of service, is replaced at once', async () => {
    // The restart backoff counts deaths within 10 s of a worker's ready message as quick ones;
    // the workers started with the gateway have a ready time too, so the death of one that
    // served longer resets the count (before, it counted as quick: the test before this one
    // killed the other, so this death would have waited 250 ms).
    const survivor = startedWith.find((pid) => gw.workerPids().includes(pid))
    assert.ok(survivor, 'one of the first two workers still runs')
    const wait = readySince + 10_500 - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const deaths = () =>
      gw.lines.filter((l) => /worker died/.test(l.msg)) as Array<Line & { restart_in_ms: number }>
    const seen = deaths().length
    process.kill(survivor, 'SIGKILL')
    await gw.waitFor('worker died', () => deaths().length > seen)
    assert.deepEqual(
      deaths()
        .slice(seen)
        .map((l) => l.restart_in_ms),
      [0],
    )
    await replacedBy2(survivor)
  })

  test('SIGTERM drains every worker, then the primary exits 0', async () => {
    upstream.delay = 700
    try {
      const seen = upstream.seen.length
      const inflight = get(`${proxy}/b/slow`)
      await reachedUpstream(upstream, seen)
      const pids = gw.workerPids()
      gw.child.kill('SIGTERM')
      assert.equal((await inflight).status, 200, 'the request in flight is answered')
      assert.equal(await gw.exitCode, 0)
      for (const pid of pids) {
        assert.throws(() => process.kill(pid, 0), 'no worker left behind')
      }
    } finally {
      upstream.delay = 0
    }
  })

  test('SIGTERM to the whole process group (as systemd sends it): every worker drains, exit 0', async () => {
    const group = new Running(
      ['--config', file, '--workers', '2', '--listen', '127.0.0.1:0', '--admin-listen', 'off'],
      { detached: true },
    )
    try {
      const ready = await group.waitFor('primary ready', (l) => l.workers === 2)
      upstream.delay = 700
      const seen = upstream.seen.length
      const inflight = get(`${ready.proxy}/b/slow`)
      await reachedUpstream(upstream, seen)
      process.kill(-group.child.pid!, 'SIGTERM')
      assert.equal((await inflight).status, 200, 'the request in flight is answered')
      assert.equal(await group.exitCode, 0)
      await group.waitFor(
        'workers stopped',
        () => group.lines.filter((l) => l.msg === 'kong-upstream-jwt worker stopped').length === 2,
      )
    } finally {
      upstream.delay = 0
      await group.stop()
    }
  })
})

test('the replacement of an only worker asked for port 0 binds the port the first was given, on the host asked for', () => {
  const any = { host: '0.0.0.0', port: 0 }
  assert.deepEqual(
    replacementListenArgs({ workers: 1, listen: any }, 'http://127.0.0.1:41234', undefined),
    ['--listen', '0.0.0.0:41234'],
  )
  assert.deepEqual(
    replacementListenArgs(
      { workers: 1, listen: { host: '::', port: 0 }, listenSsl: { host: '::1', port: 0 } },
      'http://[::1]:41234',
      'https://[::1]:41235',
    ),
    ['--listen', '[::]:41234', '--listen-ssl', '[::1]:41235'],
  )
  // A port given is bound again as given; with more workers the others keep the listener.
  assert.deepEqual(
    replacementListenArgs(
      { workers: 1, listen: { host: '127.0.0.1', port: 8000 } },
      'http://127.0.0.1:8000',
      undefined,
    ),
    [],
  )
  assert.deepEqual(
    replacementListenArgs({ workers: 2, listen: any }, 'http://127.0.0.1:41234', undefined),
    [],
  )
})
