import cluster from 'node:cluster'
import { pino } from 'pino'
import { startDemo } from '../../gateway/demo.js'
import { type Gateway, type GatewayOptions, startGateway } from '../../gateway/gateway.js'
import { gatewayLogger } from '../../gateway/logger.js'
import { runWorker, startWorkers, workerCount } from '../../gateway/workers.js'
import { assertReadable, type CliIo } from '../io.js'
import { type GatewayInput, UsageError } from '../parse.js'

/** The configuration of quick mode: one service for every path, signed globally. */
export function quickConfig(input: GatewayInput): Record<string, unknown> {
  if (input.upstream === undefined) throw new UsageError('--upstream is required')
  return {
    _format_version: '3.0',
    services: [
      {
        name: 'upstream',
        url: input.upstream,
        routes: [{ name: 'all', paths: ['/'], strip_path: false }],
      },
    ],
    plugins: [{ name: 'kong-upstream-jwt', config: input.signer }],
  }
}

/**
 * `gateway`: runs until SIGTERM or SIGINT (drains in-flight requests, exit 0); SIGHUP reloads
 * the configuration and keys.
 */
export async function gatewayCommand(input: GatewayInput, io: CliIo): Promise<number> {
  if (input.config !== undefined) await assertReadable('--config', input.config)
  let gateway: Pick<Gateway, 'reload'>
  let stop: () => Promise<void>
  // One worker per core by default: measured on a 2-core machine, two workers answered 1.25x
  // (RS256) to 1.7x (ES256) the requests of one, at a lower p99 (README, Benchmarks).
  const workers = workerCount(input.workers ?? (input.demo ? 1 : 'auto'))
  if (input.demo && workers > 1) throw new UsageError('--workers works with --config or --upstream')
  const options: GatewayOptions = {
    config: input.config ?? (input.demo ? {} : quickConfig(input)),
    listen: input.listen,
    adminListen: input.adminListen,
    clientBodyBufferSize: input.clientBodyBufferSize,
    clientMaxBodySize: input.clientMaxBodySize,
    logger: gatewayLogger(input.logLevel),
    env: io.env,
  }
  if (workers > 1 && cluster.isWorker) {
    // A worker: the primary sends reload and shutdown over IPC.
    await runWorker(options)
    return new Promise<number>(() => {})
  }
  if (workers > 1) {
    const pool = await startWorkers({ ...options, workers, logger: options.logger! })
    gateway = pool
    stop = () => pool.close()
  } else if (input.demo) {
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
    const single = await startGateway(options)
    gateway = single
    stop = () => single.close()
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
