/**
 * One access event through the real kong-js-pluginserver, driven as Kong drives it (MessagePack
 * RPC over its socket, every PDK call answered): our plugin against a minimal plugin that only
 * sets a constant header (the protocol's own floor). Target: ours ≥ 0.8 × 1 / (floor latency +
 * our signing time).
 *
 *   npm run bench:kong          BENCH_EVENTS=3000 (default)
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildKongPlugin } from '../scripts/build-kong.mjs'
import type { Algorithm } from '../src/core/algorithms.js'
import { digestBytes } from '../src/core/body-digest.js'
import { createSigner } from '../src/signer/signer.js'
import { writeKeys } from '../testing/keys.js'
import { handleEvent, type KongRequest, KongRpc, startPluginServer } from '../testing/kong.js'
import { makeTempDir, removeDir } from '../testing/tmp.js'

const EVENTS = Number(process.env.BENCH_EVENTS ?? 3000)
const BODY = Buffer.alloc(1024, 120)

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

async function measure(
  rpc: KongRpc,
  plugin: string,
  config: Record<string, unknown>,
  req: KongRequest,
) {
  const status = (await rpc.call('plugin.StartInstance', {
    Name: plugin,
    Config: JSON.stringify(config),
  })) as { Id: number }
  let calls = 0
  for (let i = 0; i < 200; i++) await handleEvent(rpc, status.Id, 'access', req) // warm-up
  const latencies: number[] = []
  const start = performance.now()
  for (let i = 0; i < EVENTS; i++) {
    const t = performance.now()
    const result = await handleEvent(rpc, status.Id, 'access', req)
    latencies.push(performance.now() - t)
    calls = result.calls.length
    if (result.exit)
      throw new Error(
        `${plugin} ended the request: ${JSON.stringify(result.exit)} ${result.logs.join(' ')}`,
      )
  }
  const rate = (EVENTS * 1000) / (performance.now() - start)
  latencies.sort((a, b) => a - b)
  return { rate, p50: percentile(latencies, 50), p99: percentile(latencies, 99), calls }
}

const dir = await makeTempDir()
try {
  const plugins = join(dir, 'plugins')
  await mkdir(plugins)
  const bundle = await buildKongPlugin(join(dir, 'bundle', 'plugin.cjs'))
  await writeFile(
    join(plugins, 'kong-upstream-jwt.js'),
    `module.exports = require(${JSON.stringify(bundle)})\n`,
  )
  await writeFile(
    join(plugins, 'constant-header.js'),
    `class Plugin { async access(kong) { await kong.service.request.set_header('x-constant', 'yes') } }
module.exports = { Plugin, Name: 'constant-header', Version: '1.0.0', Priority: 1, Schema: [] }\n`,
  )
  const server = await startPluginServer(plugins, dir)
  const rpc = await KongRpc.connect(server.socket)
  const req: KongRequest = {
    headers: { 'content-length': String(BODY.length), 'content-type': 'application/json' },
    body: BODY,
    service: { id: 's', name: 'orders' },
    consumer: { id: 'c', username: 'alice' },
  }
  console.log(
    `kong-upstream-jwt Kong plugin benchmark: ${EVENTS} sequential access events through kong-js-pluginserver, Node ${process.version}`,
  )
  const floor = await measure(rpc, 'constant-header', {}, req)
  console.log(
    `\nfloor (constant header)        ${floor.rate.toFixed(0).padStart(6)} events/s  p50 ${floor.p50.toFixed(3)} ms  p99 ${floor.p99.toFixed(3)} ms  ${floor.calls} PDK call(s)`,
  )
  for (const alg of ['RS256', 'ES256'] as Algorithm[]) {
    const keys = await writeKeys(dir, alg, { name: alg })
    const config = {
      private_key_location: keys.key,
      public_key_location: keys.certDer,
      algorithm: alg,
    }
    const signer = await createSigner(config, { env: {} })
    const digest = digestBytes(BODY)
    for (let i = 0; i < 200; i++) await signer.sign({ body: digest })
    const t = performance.now()
    for (let i = 0; i < 1000; i++) await signer.sign({ body: digest, service: { name: 'orders' } })
    const signMs = (performance.now() - t) / 1000
    const ours = await measure(rpc, 'kong-upstream-jwt', config, req)
    const expected = 1000 / (floor.p50 + signMs)
    console.log(
      `${alg} kong-upstream-jwt          ${ours.rate.toFixed(0).padStart(6)} events/s  p50 ${ours.p50.toFixed(3)} ms  p99 ${ours.p99.toFixed(3)} ms  ${ours.calls} PDK calls`,
    )
    console.log(
      `  signing alone ${signMs.toFixed(3)} ms; 1/(floor p50 + signing) = ${expected.toFixed(0)} events/s; ours ${(ours.rate / expected).toFixed(2)}x of it (target 0.8x)`,
    )
    // Every PDK call is one round trip to Kong; the floor makes one, we make ours.calls.
    const perCall = 1000 / (floor.p50 * ours.calls + signMs)
    console.log(
      `  with one floor round trip per PDK call, 1/(${ours.calls} x floor p50 + signing) = ${perCall.toFixed(0)} events/s; ours ${(ours.rate / perCall).toFixed(2)}x of it`,
    )
  }
  // bind_request: four more reads (method, $upstream_uri, $args, $upstream_host) in the batch.
  const keys = await writeKeys(dir, 'ES256', { name: 'bind' })
  const plain = { private_key_location: keys.key, public_key_location: keys.certDer }
  const routed: KongRequest = {
    ...req,
    method: 'POST',
    target: '/orders/42?x=1',
    service: { id: 's', name: 'orders', host: 'orders.internal', port: 8080, path: '/v1' },
    route: { paths: ['/orders'] },
  }
  const unbound = await measure(rpc, 'kong-upstream-jwt', { ...plain, algorithm: 'ES256' }, routed)
  const bound = await measure(
    rpc,
    'kong-upstream-jwt',
    { ...plain, algorithm: 'ES256', bind_request: true },
    routed,
  )
  console.log(
    `ES256 bind_request              ${bound.rate.toFixed(0).padStart(6)} events/s  p50 ${bound.p50.toFixed(3)} ms  p99 ${bound.p99.toFixed(3)} ms  ${bound.calls} PDK calls; ${(bound.rate / unbound.rate).toFixed(2)}x of the same without it (${unbound.rate.toFixed(0)} events/s, ${unbound.calls} calls)`,
  )
  rpc.close()
  await server.stop()
} finally {
  await removeDir(dir)
}
