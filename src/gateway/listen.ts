import type { Server } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { UpstreamJwtError } from '../core/errors.js'

/** Where a listener binds. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

/**
 * Listens; a taken or forbidden address becomes a usage error (`ERR_LISTEN_FAILED`). Resolves
 * the base URL (`0.0.0.0` written as `127.0.0.1`, an IPv6 host in brackets).
 *
 * @example
 * ```ts
 * const url = await listenOn(createServer(handler), { host: '127.0.0.1', port: 0 })
 * ```
 */
export function listenOn(
  server: Server | HttpsServer,
  address: ListenAddress,
  scheme = 'http',
): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${address.host}:${address.port}`
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        reject(
          new UpstreamJwtError(
            'ERR_LISTEN_FAILED',
            `cannot listen on ${where} (${err.code}); choose another address with --listen / --admin-listen`,
            { cause: err },
          ),
        )
      } else reject(err)
    })
    server.listen(address.port, address.host, () => {
      server.removeAllListeners('error')
      const a = server.address() as AddressInfo
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
      resolve(`${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${a.port}`)
    })
  })
}
