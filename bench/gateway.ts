/**
 * Gateway throughput and latency with wrk, in one run against the same upstream (nginx):
 *   (a) nginx as a plain reverse proxy, (b) the raw async signing ceiling of node:crypto on all
 *   cores, (c) the reference signing proxy in bench/reference-proxy.ts.
 * And a 512 MiB upload: throughput and the gateway's peak RSS, against the spooling reference.
 *
 *   npm run bench:gateway            BENCH_DURATION=10 BENCH_LARGE_MIB=512 (defaults)
 * Installs nginx and wrk with apt-get when they are missing.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createPrivateKey, sign } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import type { Algorithm } from '../src/core/algorithms.js'
import { writeKeys } from '../testing/keys.js'
import { freePort } from '../testing/ports.js'
import { makeTempDir, removeDir } from '../testing/tmp.js'

const DURATION = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
const LARGE_MIB = Number(process.env.BENCH_LARGE_MIB ?? 512)
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname
const REFERENCE = new URL('./reference-proxy.ts', import.meta.url).pathname

function need(binary: string, pkg: string) {
  try {
    execFileSync('which', [binary], { stdio: 'ignore' })
  } catch {
    console.log(`installing ${pkg} with apt-get`)
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
    execFileSync('apt-get', ['install', '-y', '-qq', pkg], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
  }
}

function start(
  cmd: string,
  args: string[],
  ready: RegExp | undefined,
  output = false,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const done = () => resolve(child)
    if (!ready) setTimeout(done, 500)
    child.stdout?.on('data', (d) => {
      if (output) process.stdout.write(d)
      out += d
      if (ready?.test(out)) {
        out = ''
        done()
      }
    })
    child.stderr?.on('data', (d) => {
      out += d
    })
    child.once('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)))
  })
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve()
  return new Promise((r) => {
    child.removeAllListeners('exit')
    child.once('exit', () => r())
    child.kill('SIGTERM')
  })
}

interface WrkResult {
  rps: number
  p99: number
}

function wrk(url: string, post: boolean, dir: string): WrkResult {
  const script = join(dir, 'post.lua')
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\nwrk.headers["Content-Type"] = "application/octet-stream"\n`,
  )
  const out = execFileSync(
    'wrk',
    [
      '-t2',
      `-c${CONNECTIONS}`,
      `-d${DURATION}s`,
      '--latency',
      ...(post ? ['-s', script] : []),
      url,
    ],
    { encoding: 'utf8' },
  )
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const m = /99%\s+([\d.]+)(us|ms|s)/.exec(out)
  const p99 = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : Number.NaN
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  if (errors) console.log(`  (warning: ${errors[1]} non-2xx responses from ${url})`)
  return { rps, p99 }
}

/** RSA or ECDSA signatures per second with node:crypto async, 64 in flight: the ceiling. */
async function signingCeiling(keyFile: string, alg: Algorithm): Promise<number> {
  const key = createPrivateKey(readFileSync(keyFile))
  const input = Buffer.alloc(400, 97)
  const keyInput = alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' as const } : key
  const end = performance.now() + 3000
  let count = 0
  const worker = async () => {
    while (performance.now() < end) {
      await new Promise((r, j) =>
        sign(`sha${alg.slice(2)}`, input, keyInput, (e, s) => (e ? j(e) : r(s))),
      )
      count++
    }
  }
  const t = performance.now()
  await Promise.all(Array.from({ length: 64 }, worker))
  return (count * 1000) / (performance.now() - t)
}

function rssOf(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024
}

/** Streams `mib` MiB to `url`; resolves MiB/s. */
function upload(url: string, mib: number): Promise<number> {
  const chunk = Buffer.alloc(1024 * 1024, 1)
  return new Promise((resolve, reject) => {
    const t = performance.now()
    const req = request(
      url,
      { method: 'POST', headers: { 'content-length': String(mib * chunk.length) } },
      (res) => {
        res.resume()
        res.on('end', () =>
          res.statusCode === 200
            ? resolve((mib * 1000) / (performance.now() - t))
            : reject(new Error(`status ${res.statusCode}`)),
        )
      },
    )
    req.on('error', reject)
    let sent = 0
    const write = () => {
      while (sent < mib) {
        sent++
        if (!req.write(chunk)) return void req.once('drain', write)
      }
      req.end()
    }
    write()
  })
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`

const dir = await makeTempDir()
const children: ChildProcess[] = []
try {
  need('nginx', 'nginx')
  need('wrk', 'wrk')
  const [upstreamPort, nginxPort, gatewayPort, referencePort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ])
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes auto;
error_log ${dir}/nginx-error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  client_max_body_size 0;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server { listen 127.0.0.1:${upstreamPort}; location / { return 200 "ok"; } }
  server {
    listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  )
  const nginx = await start(
    'nginx',
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'],
    undefined,
  )
  children.push(nginx)
  const upstream = `http://127.0.0.1:${upstreamPort}`
  console.log(
    `kong-upstream-jwt gateway benchmark: wrk -t2 -c${CONNECTIONS} -d${DURATION}s, Node ${process.version}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores; upstream: nginx return 200`,
  )

  const plain = {
    get: wrk(`http://127.0.0.1:${nginxPort}/`, false, dir),
    post: wrk(`http://127.0.0.1:${nginxPort}/`, true, dir),
  }
  console.log(
    `\nnginx reverse proxy (a)        GET ${plain.get.rps.toFixed(0)} req/s p99 ${plain.get.p99} ms   POST 1 KiB ${plain.post.rps.toFixed(0)} req/s p99 ${plain.post.p99} ms`,
  )

  const algs = (process.env.BENCH_ALGS?.split(',') ?? ['RS256', 'ES256']) as Algorithm[]
  for (const alg of algs) {
    const keys = await writeKeys(dir, alg, { name: `bench-${alg}` })
    const ceiling = await signingCeiling(keys.key, alg)
    const gateway = await start(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'gateway',
        '--upstream',
        upstream,
        '--key',
        keys.key,
        '--cert',
        keys.certDer,
        '--algorithm',
        alg,
        '--listen',
        `127.0.0.1:${gatewayPort}`,
        '--admin-listen',
        'off',
      ],
      /gateway ready/,
    )
    children.push(gateway)
    gateway.stdout?.resume()
    const reference = await start(
      process.execPath,
      ['--import', 'tsx', REFERENCE, String(referencePort), upstream, keys.key, alg],
      /ready/,
    )
    children.push(reference)
    const ours = {
      get: wrk(`http://127.0.0.1:${gatewayPort}/`, false, dir),
      post: wrk(`http://127.0.0.1:${gatewayPort}/`, true, dir),
    }
    const ref = {
      get: wrk(`http://127.0.0.1:${referencePort}/`, false, dir),
      post: wrk(`http://127.0.0.1:${referencePort}/`, true, dir),
    }
    console.log(`\n${alg}                          req/s      p99 ms   ours vs`)
    for (const [name, r] of [
      ['kong-upstream-jwt GET', ours.get],
      ['reference proxy GET (c)', ref.get],
      ['kong-upstream-jwt POST 1 KiB', ours.post],
      ['reference proxy POST 1 KiB (c)', ref.post],
    ] as const) {
      console.log(
        `  ${name.padEnd(32)} ${r.rps.toFixed(0).padStart(7)}  ${String(r.p99).padStart(8)}`,
      )
    }
    console.log(`  raw async signing ceiling (b)    ${ceiling.toFixed(0).padStart(7)} signatures/s`)
    console.log(
      `  POST 1 KiB: ${ratio(ours.post.rps, ref.post.rps)} the reference (c), ${ratio(ours.post.rps, ceiling)} the signing ceiling (b), ${ratio(ours.post.rps, plain.post.rps)} nginx (a); p99 ${ratio(ours.post.p99, ref.post.p99)} the reference's`,
    )
    console.log(
      `  GET:        ${ratio(ours.get.rps, ref.get.rps)} the reference (c), ${ratio(ours.get.rps, plain.get.rps)} nginx (a)`,
    )

    if (alg === 'RS256' && LARGE_MIB > 0) {
      await stop(reference)
      const spool = await start(
        process.execPath,
        ['--import', 'tsx', REFERENCE, String(referencePort), upstream, keys.key, alg, 'spool'],
        /ready/,
      )
      children.push(spool)
      const idle = rssOf(gateway.pid!, 'VmRSS')
      const oursLarge = await upload(`http://127.0.0.1:${gatewayPort}/large`, LARGE_MIB)
      const peak = rssOf(gateway.pid!, 'VmHWM')
      const refLarge = await upload(`http://127.0.0.1:${referencePort}/large`, LARGE_MIB)
      console.log(`\n${LARGE_MIB} MiB upload (RS256)   MiB/s   ours vs`)
      console.log(
        `  kong-upstream-jwt             ${oursLarge.toFixed(0).padStart(6)}  ${ratio(oursLarge, refLarge)}`,
      )
      console.log(`  spool reference               ${refLarge.toFixed(0).padStart(6)}`)
      console.log(
        `  gateway RSS: idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB (+${(peak - idle).toFixed(0)} MiB)`,
      )
      await stop(spool)
    } else {
      await stop(reference)
    }
    await stop(gateway)
  }
} finally {
  await Promise.all(children.map(stop))
  await removeDir(dir)
}
