import { connect, createServer, type Server, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import type { Pki } from '../../testing/pki.js'

/** One line of the gateway's log, as tests read it. */
export interface LogLine {
  level: number
  msg: string
  status?: number
  error?: string
  upstream?: string
  path?: string
}

/** A pino logger writing into an array, to read what the gateway logged. */
export function capture(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, sink), lines }
}

/** A raw TCP upstream: `onRequest` gets the socket once a request head has arrived. */
export async function rawUpstream(
  onRequest: (socket: Socket) => void,
): Promise<{ url: string; server: Server }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    let head = ''
    socket.on('data', (d) => {
      head += d
      if (head.includes('\r\n\r\n')) {
        head = ''
        onRequest(socket)
      }
    })
  })
  server.on('close', () => {
    for (const s of sockets) s.destroy()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, server }
}

/** Sends raw bytes and collects the whole answer until the gateway closes; resolves it. */
export function raw(
  url: string,
  write: (socket: Socket) => void,
): Promise<{ text: string; error?: string }> {
  return new Promise((resolve) => {
    const { port } = new URL(url)
    const socket = connect(Number(port), '127.0.0.1')
    let text = ''
    let error: string | undefined
    socket.on('data', (d) => {
      text += d
    })
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code
    })
    socket.on('close', () => resolve({ text, error }))
    socket.on('connect', () => write(socket))
  })
}

/** The log line of the request to `path`, once it is written. */
export async function requestLine(lines: LogLine[], path: string): Promise<LogLine> {
  for (let i = 0; i < 200; i++) {
    const line = lines.find((l) => l.msg === 'request' && l.path === path)
    if (line) return line
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`no log line for ${path}`)
}

/**
 * The signing plugin's entry in a test's kong.yml: ES256 with the test PKI's key and chain,
 * and `extra` options.
 */
export function signingPlugin(pki: Pki, extra: Record<string, unknown> = {}) {
  return {
    name: 'kong-upstream-jwt',
    config: {
      private_key_location: pki.files.key,
      public_key_location: pki.files.chain,
      algorithm: 'ES256',
      ...extra,
    },
  }
}
