import cluster from 'node:cluster'
import { readFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { pino } from 'pino'
import { sweepArrayBuffersInline } from '../../gateway/array-buffer-sweeping.js'
import type { Gateway, GatewayOptions } from '../../gateway/gateway.js'
import { gatewayLogger } from '../../gateway/logger.js'
import { runWorker, startWorkers, workerCount } from '../../gateway/workers.js'
import type { SignOn } from '../../signer/jws.js'
import { assertReadable, type CliIo } from '../io.js'
import { type GatewayInput, UsageError } from '../parse.js'

async function pemFile(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new UsageError(
      `${flag} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    )
  }
}

/**
 * The configuration of quick mode: one service for every path, signed globally. The TLS flags
 * become Kong's entities and service fields; the files are read again on every reload.
 */
export async function quickConfig(input: GatewayInput): Promise<Record<string, unknown>> {
  if (input.upstream === undefined) throw new UsageError('--upstream is required')
  const service: Record<string, unknown> = {
    name: 'upstream',
    url: input.upstream,
    routes: [{ name: 'all', paths: ['/'], strip_path: false }],
  }
  const top: Record<string, unknown> = {}
  if (!input.upstreamTlsVerify) service.tls_verify = false
  if (input.upstreamCa !== undefined) {
    // A ca_certificates entity holds one certificate: a bundle becomes one entity each.
    const blocks =
      (await pemFile(input.upstreamCa, '--upstream-ca')).match(
        /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
      ) ?? []
    if (blocks.length === 0)
      throw new UsageError(`--upstream-ca ${input.upstreamCa} holds no PEM certificate`)
    top.ca_certificates = blocks.map((cert, i) => ({ id: `upstream-ca-${i + 1}`, cert }))
    service.ca_certificates = blocks.map((_, i) => `upstream-ca-${i + 1}`)
  }
  if (input.upstreamClientCert !== undefined && input.upstreamClientKey !== undefined) {
    const [cert, key] = await Promise.all([
      pemFile(input.upstreamClientCert, '--upstream-client-cert'),
      pemFile(input.upstreamClientKey, '--upstream-client-key'),
    ])
    top.certificates = [{ id: 'upstream-client', cert, key }]
    service.client_certificate = { id: 'upstream-client' }
  }
  return {
    _format_version: '3.0',
    ...top,
    services: [service],
    plugins: [{ name: 'kong-upstream-jwt', config: input.signer }],
  }
}

/**
 * Where the gateway signs for `--sign-on auto`: when every core has a worker, `own-core`
 * (each worker is one core's loop, as an nginx worker; for keys up to RSA-2048 the thread pool
 * would only add a hand-off and threads competing for the same cores: RS256 on 2 cores with 2
 * workers measured 0.93× the CPU per request of the pool and 0.66× its p99); when every worker
 * has a free core of its own, the pool, which the binary sizes to those cores
 * (bin/kong-upstream-jwt.cjs, `workerThreadPoolSize`): ES256 through one worker on 2 cores, with
 * one pool thread, answered 1.15–1.39× the requests per second of signing on the loop at
 * 0.89–1.03× its CPU per request (README, Benchmarks); in between (more workers than free cores)
 * the signer's own rule, `auto`: ES256 and Ed25519 on the loop, slower keys on the pool.
 */
export function signOnFor(choice: SignOn, workers: number, cores: number): SignOn {
  if (choice !== 'auto') return choice
  if (workers >= cores) return 'own-core'
  return cores - workers >= workers ? 'pool' : 'auto'
}

/**
 * `gateway`: runs until SIGTERM or SIGINT (drains in-flight requests, exit 0); SIGHUP reloads
 * the configuration and keys.
 */
export async function gatewayCommand(input: GatewayInput, io: CliIo): Promise<number> {
  if (input.config !== undefined) await assertReadable('--config', input.config)
  // This process (and each worker, which runs this command too) is the gateway's own.
  sweepArrayBuffersInline()
  let gateway: Pick<Gateway, 'reload'>
  let stop: () => Promise<void>
  // One worker per core by default, as Kong runs one nginx worker per core. On the 2-core
  // bench machine, with the load generator on the same cores, two workers answered more than
  // one in most cells but not all, at more CPU per request (README, Benchmarks). Even one
  // worker runs under a primary, as nginx's workers run under its master: the primary replaces
  // a worker that dies and starts each with Node flags of its own (young-generation.ts), which
  // a process cannot give itself once started. The demo runs in this process.
  const workers = workerCount(input.workers ?? (input.demo ? 1 : 'auto'))
  if (input.demo && workers > 1) throw new UsageError('--workers works with --config or --upstream')
  const options: GatewayOptions = {
    config: input.config ?? (input.demo ? {} : () => quickConfig(input)),
    listen: input.listen,
    listenSsl: input.listenSsl,
    ssl:
      input.sslCert !== undefined && input.sslKey !== undefined
        ? { cert: input.sslCert, key: input.sslKey }
        : undefined,
    adminListen: input.adminListen,
    clientBodyBufferSize: input.clientBodyBufferSize,
    clientMaxBodySize: input.clientMaxBodySize,
    logger: gatewayLogger(input.logLevel),
    env: io.env,
    signOn: signOnFor(input.signOn, workers, availableParallelism()),
  }
  if (!input.demo && cluster.isWorker) {
    // A worker: the primary sends reload and shutdown over IPC. One that cannot start (a key
    // file gone) leaves once its error is written: its IPC channel would otherwise keep it
    // alive, never ready, and the primary would not know to start another.
    await runWorker(options).catch((err: unknown) => {
      setImmediate(() => process.disconnect?.())
      throw err
    })
    return new Promise<number>(() => {})
  }
  if (input.demo) {
    // Only with --demo: the demo's verifying upstream is no part of a gateway's primary.
    const { startDemo } = await import('../../gateway/demo.js')
    const demo = await startDemo({
      stateDir: input.stateDir,
      listen: input.listen,
      adminListen: input.adminListen,
      logger: pino({ name: 'kong-upstream-jwt', level: input.logLevel }),
      print: (line) => io.stdout.write(`${line}\n`),
    })
    gateway = demo.gateway
    stop = () => demo.close()
  } else {
    const pool = await startWorkers({ ...options, workers, logger: options.logger! })
    gateway = pool
    stop = () => pool.close()
  }
  return new Promise((resolve) => {
    const onHup = () => void gateway.reload()
    const onStop = () => {
      process.off('SIGHUP', onHup)
      process.off('SIGTERM', onStop)
      process.off('SIGINT', onStop)
      void stop().then(() => resolve(0))
    }
    process.on('SIGHUP', onHup)
    process.on('SIGTERM', onStop)
    process.on('SIGINT', onStop)
  })
}
