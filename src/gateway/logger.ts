import { type Logger, pino } from 'pino'
import { AccessBatch, accessBatchKey } from './access-batch.js'
import { accessLineNeutralHook } from './access-line.js'

/** Characters of access-log lines held before a write, and the longest a line waits (nginx's
 * `access_log … buffer=16k flush=1s`). 16 KiB against 4 KiB: a quarter of the writes, each
 * handed to the thread pool and back; medians 4.3–5.4 µs of CPU per line into a file at
 * 4 KiB, 2.2–2.8 µs at 16 KiB (bench/access-line, this machine). */
const BUFFER = 16 * 1024
const FLUSH_MS = 1000
// sonic-boom writes at most maxWrite bytes per call (16 KiB by default): room for one batch
// and its last line, so a batch is one write.
const MAX_WRITE = 2 * BUFFER

/**
 * The gateway's logger for the CLI: JSON lines on stdout, access-log lines (`msg: "request"`
 * below error level) buffered up to 16 KiB or 1 s, as nginx's `access_log … buffer= flush=`,
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
  const destination = pino.destination({
    dest: 1,
    sync: false,
    minLength: 4096,
    maxWrite: MAX_WRITE,
  })
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
