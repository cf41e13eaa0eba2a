import { createHash } from 'node:crypto'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { createServer as createTlsServer, type ServerOptions } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'

/** What a test upstream saw of one request; it hashes the body itself. */
export interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: string[]
  readonly size: number
  readonly sha256: string
  /** Subject CN of the client certificate, when the upstream speaks TLS and got one. */
  readonly clientCert?: string | undefined
}

export interface TestUpstream {
  readonly url: string
  readonly port: number
  readonly seen: Seen[]
  /** Milliseconds to wait before answering (for timeout and drain tests). */
  delay: number
  close(): Promise<void>
}

/**
 * A real HTTP upstream on 127.0.0.1:0 that records what it receives and answers 200 JSON;
 * with `tls`, an HTTPS one (`url` then starts with https).
 */
export async function startUpstream(tls?: ServerOptions): Promise<TestUpstream> {
  const seen: Seen[] = []
  const state = { delay: 0 }
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const hash = createHash('sha256')
    let size = 0
    for await (const chunk of req) {
      hash.update(chunk as Buffer)
      size += (chunk as Buffer).length
    }
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      size,
      sha256: hash.digest('hex'),
      clientCert: tls
        ? ((req.socket as TLSSocket).getPeerCertificate().subject?.CN as string | undefined)
        : undefined,
    })
    if (state.delay > 0) await new Promise((r) => setTimeout(r, state.delay))
    if (res.destroyed) return
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-upstream': 'yes',
      connection: 'keep-alive',
    })
    res.end(JSON.stringify({ ok: true, size }))
  }
  const server: Server = tls ? createTlsServer(tls, handler) : createServer(handler)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    seen,
    get delay() {
      return state.delay
    },
    set delay(ms: number) {
      state.delay = ms
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
