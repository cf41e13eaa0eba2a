import { type Logger, pino } from 'pino'
import { accessLineNeutralHook } from './access-line.js'

/** Bytes of access-log lines held before a write, and the longest a line waits (nginx's
 * `access_log … buffer=4k flush=1s`). */
const BUFFER = 4096
const FLUSH_MS = 1000

/**
 * The gateway's logger for the CLI: JSON lines on stdout, access-log lines (`msg: "request"`
 * below error level) buffered up to 4 KiB or 1 s, as nginx's `access_log … buffer= flush=`,
 * every other line (startup, reloads, errors) written at once. A write per access line was
 * about 4% of the CPU per request (bench/gateway). Buffered lines are written on exit.
 *
 * @example
 * ```ts
 * const log = gatewayLogger('info')
 * await startGateway({ config: 'kong.yml', logger: log })
 * ```
 */
export function gatewayLogger(level: string): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: BUFFER })
  const flush = () => {
    try {
      destination.flush()
    } catch {} // not ready yet: the next flush writes it
  }
  setInterval(flush, FLUSH_MS).unref()
  process.once('exit', () => {
    try {
      destination.flushSync()
    } catch {}
  })
  // Does nothing for an info access line, so writeAccessLine may write it without pino.
  const logMethod = Object.assign(
    function (
      this: Logger,
      args: Parameters<Logger['info']>,
      method: Logger['info'],
      lineLevel: number,
    ) {
      method.apply(this, args)
      if (lineLevel >= 50 || args[args.length - 1] !== 'request') flush()
    },
    { [accessLineNeutralHook]: true },
  )
  return pino(
    {
      name: 'kong-upstream-jwt',
      level,
      hooks: { logMethod },
    },
    destination,
  )
}
