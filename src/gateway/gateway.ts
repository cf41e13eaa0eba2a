import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { type Logger, pino } from 'pino'
import { DEFAULT_BODY_BUFFER_SIZE } from '../core/defaults.js'
import { GatewayConfigError } from '../core/errors.js'
import type { SignOn } from '../signer/jws.js'
import type { JsonWebKeySet } from '../signer/signer.js'
import { createAdminServer } from './admin.js'
import { type ConfigSource, loadConfig } from './config.js'
import { watchConfigFile } from './config-watch.js'
import { type ListenAddress, listenOn } from './listen.js'
import {
  createHttpsListener,
  type ListenerTls,
  loadListenerTls,
  type SslFiles,
} from './listener-tls.js'
import { GatewayMetrics } from './metrics.js'
import { createProxyHandler, exchangeOn } from './proxy.js'
import { buildRuntime, type Runtime } from './runtime.js'
import { threadPoolSize } from './threadpool.js'
import { Upstreams } from './upstream.js'

// After the drain: how long upstream pools may take to close before they are destroyed.
const UPSTREAM_CLOSE_GRACE_MS = 1_000

export { loadConfig } from './config.js'
export type { ListenAddress } from './listen.js'
export { listenOn } from './listen.js'

/** Options of `startGateway`. */
export interface GatewayOptions {
  /**
   * A `kong.yml` path (reloaded on SIGHUP via `reload()` and when the file changes), a config,
   * or a function making one (called again on every reload).
   */
  readonly config: ConfigSource
  /** Proxy listener; default 0.0.0.0:8000. */
  readonly listen?: ListenAddress
  /** HTTPS proxy listener (Kong's `proxy_listen … ssl`); needs `ssl`. */
  readonly listenSsl?: ListenAddress
  /** The HTTPS listener's default certificate (chain) and key files (Kong's `ssl_cert`, `ssl_cert_key`). */
  readonly ssl?: SslFiles
  /** Admin listener (status, metrics, JWKS); default 127.0.0.1:8001; `false` for none. */
  readonly adminListen?: ListenAddress | false
  /** Body bytes kept in memory before spooling to disk; default 1 MiB. */
  readonly clientBodyBufferSize?: number
  /** Largest body accepted (413 beyond); default 0 = no limit, as Kong. */
  readonly clientMaxBodySize?: number
  /** Folder for spooled bodies; default the OS temp folder. */
  readonly tmpDir?: string
  /** Access and error log (pino); default JSON lines on stdout. */
  readonly logger?: Logger
  /** Environment for the signers' overrides (KONG_SSL_CERT_KEY, …); default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Longest wait for in-flight requests on `close()`; default 10 s. */
  readonly drainTimeout?: number
  /** Watch the config file and reload when it changes; default true for a file. */
  readonly watch?: boolean
  /**
   * Where request signatures are computed (`SignOn`): `auto` (default; ES256 and Ed25519 on
   * the event loop, RSA and the rest on libuv's thread pool), `own-core` (for a worker per
   * core: also RSA-2048 and Ed448 on the loop), `loop` (every key), `pool`.
   */
  readonly signOn?: SignOn
  /**
   * What the ready and stopped log lines call this process: `gateway` (default), or `worker`
   * for one of `--workers` (the primary logs the gateway's lines once all workers listen).
   */
  readonly role?: 'gateway' | 'worker'
}

/** What `/status` reports of one gateway process. */
export interface GatewayStatus {
  readonly status: 'ok'
  readonly uptime_seconds: number
  readonly requests: { readonly total: number; readonly in_flight: number }
  readonly config: {
    readonly services: number
    readonly routes: number
    readonly consumers: number
  }
}

/** A running gateway. */
export interface Gateway {
  /** Base URL of the proxy listener. */
  readonly url: string
  /** Base URL of the HTTPS listener, when there is one. */
  readonly sslUrl: string | undefined
  /** Base URL of the admin listener, when there is one. */
  readonly adminUrl: string | undefined
  readonly metrics: GatewayMetrics
  /** What `/status` reports (requests so far and in flight, the configuration's size). */
  status(): GatewayStatus
  /** The public keys of every signer in use, as `/.well-known/jwks.json` serves them. */
  jwks(): JsonWebKeySet
  /**
   * Loads the configuration and keys again and swaps them in atomically. A bad configuration
   * or key is refused (logged) and the running one kept; resolves whether the new one is in use.
   */
  reload(): Promise<boolean>
  /** Stops accepting, lets in-flight requests finish (up to `drainTimeout`), then closes. */
  close(): Promise<void>
}

/**
 * Node's parser refused the request's framing (broken chunked encoding, bad headers). Answers
 * as node would, and marks the request in progress, if any, so it is logged as the 400 it is.
 */
function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const x = exchangeOn(socket as never)
  if (x && err.code?.startsWith('HPE_')) x.malformed = err.code
  const sent = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent
  if (!socket.writable || sent) return void socket.destroy()
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const reason = {
    400: 'Bad Request',
    408: 'Request Timeout',
    431: 'Request Header Fields Too Large',
  }[status]
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

/**
 * Starts the signing gateway: a reverse proxy that signs every request it forwards, configured
 * by Kong's declarative format.
 *
 * @example
 * ```ts
 * import { startGateway } from 'kong-upstream-jwt/gateway'
 * const gateway = await startGateway({ config: './kong.yml', listen: { host: '127.0.0.1', port: 8000 } })
 * process.on('SIGHUP', () => gateway.reload())
 * process.on('SIGTERM', () => gateway.close())
 * ```
 * @throws {GatewayConfigError | KeyError | ConfigError} when the configuration or a key is bad
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = options.logger ?? pino({ name: 'kong-upstream-jwt' })
  const env = options.env ?? process.env
  const signerLog = {
    info: (msg: string) => log.info(msg),
    warn: (msg: string) => log.warn(msg),
    error: (msg: string) => log.error(msg),
  }
  if ((options.listenSsl === undefined) !== (options.ssl === undefined))
    throw new GatewayConfigError(
      'the HTTPS listener needs listenSsl with ssl (--listen-ssl with --ssl-cert and --ssl-key)',
      { option: 'listenSsl' },
    )
  const firstConfig = await loadConfig(options.config)
  const listenerTls: ListenerTls | undefined = options.ssl
    ? await loadListenerTls(options.ssl, firstConfig.certificates ?? [])
    : undefined
  let runtime: Runtime = await buildRuntime(firstConfig, {
    env,
    logger: signerLog,
    signOn: options.signOn,
  })
  const metrics = new GatewayMetrics()
  const upstreams = new Upstreams()
  let inFlight = 0
  let total = 0
  const handlerContext = {
    runtime: () => runtime,
    upstreams,
    metrics,
    log,
    proto: 'http',
    onClosed: () => {
      inFlight--
    },
    limits: {
      bufferSize: options.clientBodyBufferSize ?? DEFAULT_BODY_BUFFER_SIZE,
      maxSize: options.clientMaxBodySize ?? 0,
      tmpDir: options.tmpDir,
    },
  } as const
  const counted =
    (handle: ReturnType<typeof createProxyHandler>) =>
    (req: IncomingMessage, res: ServerResponse) => {
      inFlight++
      total++
      handle(req, res)
    }
  const onRequest = counted(createProxyHandler(handlerContext))
  const proxy = createServer(onRequest)
  // Handling 'checkContinue' stops node from sending 100 Continue by itself: the handler sends
  // it only once the request is routed, authenticated and within client_max_body_size.
  proxy.on('checkContinue', onRequest)
  proxy.on('clientError', onClientError)
  proxy.keepAliveTimeout = 60_000
  // HTTPS listener (issue 14): the same handler, told the client spoke https.
  const onTlsRequest = counted(createProxyHandler({ ...handlerContext, proto: 'https' }))
  const https = listenerTls ? createHttpsListener(listenerTls, onTlsRequest) : undefined
  if (https) {
    https.server.on('checkContinue', onTlsRequest)
    https.server.on('clientError', onClientError)
    https.server.keepAliveTimeout = 60_000
  }
  const startedAt = Date.now()
  const status = (): GatewayStatus => ({
    status: 'ok',
    uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
    requests: { total, in_flight: inFlight },
    config: {
      services: runtime.config.services.length,
      routes: runtime.config.routes.length,
      consumers: runtime.config.consumers.length,
    },
  })
  const admin =
    options.adminListen === false
      ? undefined
      : createAdminServer({
          status,
          metrics: async () => ({
            text: await metrics.registry.metrics(),
            contentType: metrics.registry.contentType,
          }),
          jwks: () => runtime.jwks(),
        })

  const url = await listenOn(proxy, options.listen ?? { host: '0.0.0.0', port: 8000 })
  let adminUrl: string | undefined
  let sslUrl: string | undefined
  try {
    sslUrl =
      https && options.listenSsl
        ? await listenOn(https.server, options.listenSsl, 'https')
        : undefined
    adminUrl = admin
      ? await listenOn(admin, options.adminListen || { host: '127.0.0.1', port: 8001 })
      : undefined
  } catch (err) {
    proxy.close()
    https?.server.close()
    throw err
  }

  let reloading: Promise<boolean> | undefined
  const reload = () => {
    reloading ??= (async () => {
      try {
        const config = await loadConfig(options.config)
        const nextTls = options.ssl
          ? await loadListenerTls(options.ssl, config.certificates ?? [])
          : undefined
        const next = await buildRuntime(config, {
          env,
          logger: signerLog,
          signOn: options.signOn,
        })
        if (nextTls) https?.update(nextTls)
        // Requests in flight keep the runtime they started with; signers hold no resources.
        runtime = next
        upstreams.retain(next.config.services)
        log.info(
          { services: next.config.services.length, routes: next.config.routes.length },
          'configuration reloaded',
        )
        return true
      } catch (err) {
        log.error(
          { error: (err as Error).message },
          'new configuration refused; keeping the running one',
        )
        return false
      }
    })().finally(() => {
      reloading = undefined
    })
    return reloading
  }

  const unwatch = watchConfigFile(options, () => void reload())

  const role = options.role ?? 'gateway'
  log.info(
    {
      proxy: url,
      proxy_ssl: sslUrl,
      admin: adminUrl,
      sign_on: options.signOn ?? 'auto',
      threadpool: threadPoolSize(),
    },
    `kong-upstream-jwt ${role} ready`,
  )

  let closing: Promise<void> | undefined
  return {
    url,
    sslUrl,
    adminUrl,
    metrics,
    status,
    jwks: () => runtime.jwks(),
    reload,
    close() {
      closing ??= (async () => {
        unwatch()
        const closed = Promise.all([
          new Promise((r) => proxy.close(() => r(undefined))),
          https ? new Promise((r) => https.server.close(() => r(undefined))) : undefined,
          admin ? new Promise((r) => admin.close(() => r(undefined))) : undefined,
        ])
        proxy.closeIdleConnections()
        https?.server.closeIdleConnections()
        admin?.closeAllConnections()
        const deadline = Date.now() + (options.drainTimeout ?? 10_000)
        while (inFlight > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20))
          proxy.closeIdleConnections()
          https?.server.closeIdleConnections()
        }
        proxy.closeAllConnections()
        https?.server.closeAllConnections()
        await closed
        // Every client connection is closed by now, so each upstream exchange was cancelled;
        // one that still has not ended (a defect) is cut off rather than hang the stop.
        const destroyed = await upstreams.close(UPSTREAM_CLOSE_GRACE_MS)
        if (destroyed > 0)
          log.error(
            { pools: destroyed },
            `upstream requests still in flight ${UPSTREAM_CLOSE_GRACE_MS} ms after the drain: their connections were destroyed`,
          )
        runtime.close()
        log.info({ drained: inFlight === 0 }, `kong-upstream-jwt ${role} stopped`)
      })()
      return closing
    },
  }
}
