import type { Socket } from 'node:net'

/** Bounds of a graceful close: nginx's lingering_timeout and a byte budget. */
export interface LingerLimits {
  /** Longest wait for the client to stop sending, in ms; default 5 s. */
  readonly ms?: number
  /** Most bytes read and discarded; default 64 MiB. */
  readonly bytes?: number
}

/**
 * Closes a connection gracefully once the response in flight has been written (RFC 9112 §9.6):
 * half-closes (FIN after the response), then reads and discards what the client still sends,
 * up to a time and a byte budget, and only then closes. Closing at once with unread input makes
 * the kernel send a reset, and a client still uploading loses the response it was sent (a 413).
 *
 * Node ends a `Connection: close` response with `socket.destroySoon()`; this replaces it for
 * this one socket.
 *
 * @example
 * ```ts
 * lingerOnClose(res.socket)
 * res.writeHead(413, { connection: 'close' }).end()
 * ```
 */
export function lingerOnClose(socket: Socket | null, limits: LingerLimits = {}): void {
  if (!socket || socket.destroyed) return
  const ms = limits.ms ?? 5000
  const budget = limits.bytes ?? 64 * 1024 * 1024
  socket.destroySoon = function lingeringClose(this: Socket) {
    let read = 0
    const timer = setTimeout(() => this.destroy(), ms)
    timer.unref()
    this.on('data', (chunk: Buffer) => {
      read += chunk.length
      if (read > budget) this.destroy()
    })
    this.once('end', () => this.destroy())
    this.once('close', () => clearTimeout(timer))
    this.end()
    this.resume()
  }
}
