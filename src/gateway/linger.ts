import type { IncomingMessage, ServerResponse } from 'node:http'

/** Bounds of a graceful close: nginx's lingering_timeout and a byte budget. */
export interface DrainLimits {
  /** Longest wait for the rest of the request body, in ms; default 5 s. */
  readonly ms?: number
  /** Most bytes read and discarded; default 64 MiB. */
  readonly bytes?: number
}

/**
 * After an early answer (a 413) to a client that may still be uploading, closes the connection
 * gracefully (RFC 9112 §9.6): the answer goes out first, then the rest of the request body is
 * read and discarded, up to a time and a byte budget, and only then is the connection closed.
 * Closing with unread input makes the kernel send a reset, and a client still writing loses
 * the answer it was sent. Past the budget the connection is cut, as nginx's lingering close.
 * Call it after the response has been ended, without `Connection: close` on it (node would
 * close at once).
 *
 * @example
 * ```ts
 * res.writeHead(413).end()
 * drainThenClose(req, res)
 * ```
 */
export function drainThenClose(
  req: IncomingMessage,
  res: ServerResponse,
  limits: DrainLimits = {},
): void {
  const socket = res.socket ?? req.socket
  if (!socket || socket.destroyed) return
  const budget = limits.bytes ?? 64 * 1024 * 1024
  const timer = setTimeout(() => socket.destroy(), limits.ms ?? 5000)
  timer.unref()
  let read = 0
  req.on('data', (chunk: Buffer) => {
    read += chunk.length
    if (read > budget) socket.destroy()
  })
  req.once('end', () => {
    clearTimeout(timer)
    socket.end()
  })
  socket.once('close', () => clearTimeout(timer))
  if (req.complete) {
    clearTimeout(timer)
    socket.end()
  }
  req.resume()
}
