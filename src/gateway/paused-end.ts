/**
 * A guard for undici 7's HTTP/1 client, which asserts, when a connection ends, that its parser
 * is not paused (nodejs/undici#5360). The parser pauses whenever the client response applies
 * backpressure; when an upstream's last bytes and its close (`Connection: close`, a body that
 * ends with the connection, a truncated one) arrive while it is, the parser resumes onto both
 * and undici's 'end' handler throws an AssertionError that no handler can catch: the process
 * dies with every request in it. undici 8 resumes the parser there itself (nodejs/undici#5474),
 * but needs Node 22.19.
 * @module
 */
import type { Socket } from 'node:net'

interface PausableParser {
  paused?: unknown
  resume?: unknown
}

// undici keeps a connection's parser under a symbol of its own (`Symbol('parser')`).
let parserKey: symbol | undefined

function parserOf(socket: Socket): PausableParser | undefined {
  parserKey ??= Object.getOwnPropertySymbols(socket).find((s) => s.description === 'parser')
  if (parserKey === undefined) return undefined
  const parser = (socket as unknown as Record<symbol, unknown>)[parserKey]
  return typeof parser === 'object' && parser !== null ? (parser as PausableParser) : undefined
}

function onEnd(this: Socket): void {
  const parser = parserOf(this)
  if (typeof parser?.resume !== 'function') return
  // The bytes the parser resumes onto were read already, and nothing more can arrive on an
  // ended connection: the client response's backpressure has nothing left to hold back. The
  // resume flushes the parser with an empty chunk, for which the body callback reports no
  // backpressure (`Call.onData`), so it runs on: the response completes, or fails as
  // truncated, as it would have without the pause.
  if (parser.paused === true) parser.resume()
}

/**
 * Resumes undici's parser, if paused, when `socket` ends, ahead of undici's own 'end' handler.
 * Call it on every socket a pool's connector makes.
 *
 * @example
 * ```ts
 * connector(options, (err, socket) => {
 *   if (socket) resumePausedParserOnEnd(socket)
 *   callback(err, socket)
 * })
 * ```
 */
export function resumePausedParserOnEnd(socket: Socket): void {
  socket.prependListener('end', onEnd)
}
