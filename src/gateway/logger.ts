import { type Logger, pino } from 'pino'
import { AccessBatch, accessBatchKey } from './access-batch.js'
import { accessLineNeutralHook } from './access-line.js'

/** Bytes of access-log lines held before a write, and the longest a line waits (nginx's
 * `access_log … buffer=4k flush=1s`). */
const BUFFER = 4096
const FLUSH_MS = 1000

/**
 * The gateway's logger for the CLI: JSON lines on stdout, access-log lines (`msg: "request"`
 * below error level) buffered up to 4 KiB or 1 s, as nginx's `access_log … buffer= flush=`,
 * every other line (startup, reloads, errors) written at once, after the access lines before
 * it. A write per access line was about 4% of the CPU per request (bench/gateway). Access
 * lines are batched before they reach the destination (see `AccessBatch`). Buffered lines
 * are written on exit.
 *
 * @example
 * ```ts
 * const log = gatewayLogger('info')
 * await startGateway({ config: 'kong.yml', logger: log })
 * ```
 */
export function gatewayLogger(level: string): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: BUFFER })
  const batch = new AccessBatch(destination, BUFFER)
  const flush = () => {
    batch.flush()
    try {
      destination.flush()
    } catch {} // not ready yet: the next flush writes it
  }
  setInterval(flush, FLUSH_MS).unref()
  process.once('exit', () => {
    batch.flush()
    try {
      destination.flushSync()
    } catch {}
  })
  // Changes no line, so writeAccessLine may write an info access line without pino. Every line
  // pino writes goes after the batched access lines.
  const logMethod = Object.assign(
    function (
      this: Logger,
      args: Parameters<Logger['info']>,
      method: Logger['info'],
      lineLevel: number,
    ) {
      batch.flush()
      method.apply(this, args)
      if (lineLevel >= 50 || args[args.length - 1] !== 'request') flush()
    },
    { [accessLineNeutralHook]: true },
  )
  const logger = pino(
    {
      name: 'kong-upstream-jwt',
      level,
      hooks: { logMethod },
    },
    destination,
  )
  return Object.assign(logger, { [accessBatchKey]: batch })
}
