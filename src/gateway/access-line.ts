import { type Logger, pino } from 'pino'
import { type AccessBatch, accessBatchKey } from './access-batch.js'
import type { Exchange } from './exchange.js'

const {
  streamSym,
  timeSym,
  chindingsSym,
  lsCacheSym,
  endSym,
  mixinSym,
  formattersSym,
  serializersSym,
  stringifiersSym,
  messageKeySym,
  hooksSym,
  needsMetadataGsym,
} = pino.symbols

/** Marks a pino `logMethod` hook that does nothing for an info-level access line. */
export const accessLineNeutralHook: unique symbol = Symbol(
  'kong-upstream-jwt.accessLineNeutralHook',
)

const ACCESS_FIELDS = [
  'method',
  'path',
  'route',
  'service',
  'consumer',
  'status',
  'latency_ms',
  'signing_ms',
  'upstream_ms',
  'body_bytes',
  'jti',
  'upstream',
  'error',
]

// Any character JSON needs escaped, and every surrogate (a lone one must come out as \udXXX,
// as JSON.stringify writes it, so the line stays valid UTF-8 and parses back the same).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be escaped
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/

/** A JSON string literal of `s`, exactly as `JSON.stringify(s)`. */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`
}

const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null')

/**
 * `num(Math.round(ms * 100) / 100)`, the milliseconds of the access line as pino writes them,
 * from the integer hundredths: an integer's decimal string is a cached small-integer
 * conversion, where a fraction's takes V8's shortest-round-trip search (three per line).
 * The two agree for hundredths below 2^46 (22 years), where the double nearest `c / 100` is
 * printed as the exact `c / 100` (its spacing is far below 0.01, so no shorter decimal maps to
 * it); beyond that, and for negative or non-finite values, it defers to `num`.
 *
 * @example
 * ```ts
 * hundredths(1.2049) // '1.2'
 * ```
 */
export function hundredths(ms: number): string {
  const c = Math.round(ms * 100)
  if (!(c >= 0 && c < 2 ** 46)) return num(c / 100)
  const whole = Math.floor(c / 100)
  const f = c - whole * 100
  if (f === 0) return `${whole}`
  if (f % 10 === 0) return `${whole}.${f / 10}`
  return f < 10 ? `${whole}.0${f}` : `${whole}.${f}`
}

/**
 * The access-log record of one request as the JSON members pino would write for
 * `accessRecord(x, latencyMs)`, each with a leading comma; undefined members left out.
 * Every value is a string or a number of a known field: no object, so no token or key can
 * reach the line by way of a nested value.
 */
export function accessMembers(x: Exchange, latencyMs: number): string {
  let s = `,"method":${jsonString(x.method)},"path":${jsonString(x.path)}`
  if (x.routeName) s += `,"route":${jsonString(x.routeName)}`
  if (x.serviceName) s += `,"service":${jsonString(x.serviceName)}`
  if (x.consumerName !== undefined) s += `,"consumer":${jsonString(x.consumerName)}`
  s += `,"status":${num(x.status)},"latency_ms":${hundredths(latencyMs)}`
  if (x.signMs !== undefined) s += `,"signing_ms":${hundredths(x.signMs)}`
  if (x.upstreamMs !== undefined) s += `,"upstream_ms":${hundredths(x.upstreamMs)}`
  const size = x.body?.digest.size
  if (size !== undefined) s += `,"body_bytes":${num(size)}`
  const jti = x.token?.claims.jti ?? x.nonce
  if (jti !== undefined) s += `,"jti":${jsonString(jti)}`
  if (x.upstream !== undefined) s += `,"upstream":${jsonString(x.upstream)}`
  if (x.error !== undefined) s += `,"error":${jsonString(x.error)}`
  return s
}

const plain = new WeakMap<Logger, boolean>()

/**
 * Whether an info line from `logger` is exactly level, time, bindings, the object's members
 * and msg, written as one string to its stream: no mixin, log formatter, serializer or
 * stringifier for an access field, no hook that would act on the line, no stream that wants
 * the line's metadata (pino.multistream). Decided once per logger.
 */
function isPlain(logger: Logger): boolean {
  let known = plain.get(logger)
  if (known === undefined) {
    // biome-ignore lint/suspicious/noExplicitAny: pino's internals are reached by its exported symbols
    const l = logger as any
    const hooks = l[hooksSym] ?? {}
    const serializers = l[serializersSym] ?? {}
    const stringifiers = l[stringifiersSym] ?? {}
    known =
      !l[mixinSym] &&
      !l[formattersSym]?.log &&
      l[messageKeySym] === 'msg' &&
      (!hooks.logMethod || hooks.logMethod[accessLineNeutralHook] === true) &&
      !hooks.streamWrite &&
      !ACCESS_FIELDS.some((k) => serializers[k] || stringifiers[k]) &&
      l[streamSym]?.[needsMetadataGsym] !== true &&
      typeof l[lsCacheSym]?.[30] === 'string'
    plain.set(logger, known)
  }
  return known
}

/**
 * Writes the info-level access line of one request: the same JSON line pino writes for
 * `logger.info(accessRecord(x, latencyMs), 'request')`, built from the known fields without
 * pino's generic walk over the object (about 3.5 µs a line, bench/access-line). It goes to the
 * logger's access batch when it has one (`gatewayLogger`), else to its own stream, so the
 * access log's batching is kept. A logger configured in a way
 * this writer does not reproduce gets the line through pino.
 *
 * @example
 * ```ts
 * if (logger.isLevelEnabled('info')) writeAccessLine(logger, x, performance.now() - x.started)
 * ```
 */
export function writeAccessLine(
  logger: Logger,
  x: Exchange,
  latencyMs: number,
  record: () => object,
): void {
  if (!isPlain(logger)) {
    logger.info(record(), 'request')
    return
  }
  // biome-ignore lint/suspicious/noExplicitAny: pino's internals are reached by its exported symbols
  const l = logger as any
  const line = `${l[lsCacheSym][30]}${l[timeSym]()}${l[chindingsSym]}${accessMembers(x, latencyMs)},"msg":"request"${l[endSym]}`
  const batch: AccessBatch | undefined = l[accessBatchKey]
  if (batch) batch.push(line)
  else l[streamSym].write(line)
}
