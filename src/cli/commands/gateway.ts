import { pino } from 'pino'
import { startDemo } from '../../gateway/demo.js'
import { type Gateway, startGateway } from '../../gateway/gateway.js'
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
  let gateway: Gateway
  let stop: () => Promise<void>
  if (input.demo) {
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
    gateway = await startGateway({
      config: input.config ?? quickConfig(input),
      listen: input.listen,
      adminListen: input.adminListen,
      clientBodyBufferSize: input.clientBodyBufferSize,
      clientMaxBodySize: input.clientMaxBodySize,
      logger: pino({ name: 'kong-upstream-jwt', level: input.logLevel }),
      env: io.env,
    })
    stop = () => gateway.close()
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
