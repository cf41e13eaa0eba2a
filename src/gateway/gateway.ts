import { unwatchFile, watchFile } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Logger, pino } from 'pino'
import { DEFAULT_BODY_BUFFER_SIZE } from '../core/defaults.js'
import { UpstreamJwtError } from '../core/errors.js'
import { type GatewayConfig, loadConfigFile, parseConfig } from './config.js'
import { GatewayMetrics } from './metrics.js'
import { createProxyHandler } from './proxy.js'
import { buildRuntime, type Runtime } from './runtime.js'
import { Upstreams } from './upstream.js'

/** Where a listener binds. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

/** Options of `startGateway`. */
export interface GatewayOptions {
  /** A `kong.yml` path (reloaded on SIGHUP via `reload()` and when the file changes), or a config. */
  readonly config: string | GatewayConfig | Record<string, unknown>
  /** Proxy listener; default 0.0.0.0:8000. */
  readonly listen?: ListenAddress
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
}

/** A running gateway. */
export interface Gateway {
  /** Base URL of the proxy listener. */
  readonly url: string
  /** Base URL of the admin listener, when there is one. */
  readonly adminUrl: string | undefined
  readonly metrics: GatewayMetrics
  /**
   * Loads the configuration and keys again and swaps them in atomically. A bad configuration
   * or key is refused (logged) and the running one kept; resolves whether the new one is in use.
   */
  reload(): Promise<boolean>
  /** Stops accepting, lets in-flight requests finish (up to `drainTimeout`), then closes. */
  close(): Promise<void>
}

async function loadConfig(source: GatewayOptions['config']): Promise<GatewayConfig> {
  if (typeof source === 'string') return loadConfigFile(source)
  if (
    'routes' in source &&
    Array.isArray(source.routes) &&
    'consumers' in source &&
    !('_format_version' in source)
  ) {
    return source as GatewayConfig
  }
  return parseConfig(source)
}

function listenOn(server: Server, address: ListenAddress): Promise<string> {
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
      resolve(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${a.port}`)
    })
  })
}

function json(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) })
  res.end(text)
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
  let runtime: Runtime = await buildRuntime(await loadConfig(options.config), {
    env,
    logger: signerLog,
  })
  const metrics = new GatewayMetrics()
  const upstreams = new Upstreams()
  let inFlight = 0
  let total = 0
  const handle = createProxyHandler({
    runtime: () => runtime,
    upstreams,
    metrics,
    log,
    proto: 'http',
    limits: {
      bufferSize: options.clientBodyBufferSize ?? DEFAULT_BODY_BUFFER_SIZE,
      maxSize: options.clientMaxBodySize ?? 0,
      tmpDir: options.tmpDir,
    },
  })
  const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++
    total++
    handle(req, res).finally(() => {
      inFlight--
    })
  })
  proxy.keepAliveTimeout = 60_000
  const startedAt = Date.now()
  const admin =
    options.adminListen === false
      ? undefined
      : createServer(async (req, res) => {
          const path = (req.url ?? '/').split('?')[0]
          if (req.method !== 'GET') return json(res, 405, { message: 'Method not allowed' })
          if (path === '/status') {
            return json(res, 200, {
              status: 'ok',
              uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
              requests: { total, in_flight: inFlight },
              config: {
                services: runtime.config.services.length,
                routes: runtime.config.routes.length,
                consumers: runtime.config.consumers.length,
              },
            })
          }
          if (path === '/metrics')
            return json(res, 200, await metrics.registry.metrics(), metrics.registry.contentType)
          if (path === '/.well-known/jwks.json')
            return json(res, 200, runtime.jwks(), 'application/jwk-set+json')
          return json(res, 404, { message: 'Not found' })
        })

  const url = await listenOn(proxy, options.listen ?? { host: '0.0.0.0', port: 8000 })
  let adminUrl: string | undefined
  try {
    adminUrl = admin
      ? await listenOn(admin, options.adminListen || { host: '127.0.0.1', port: 8001 })
      : undefined
  } catch (err) {
    proxy.close()
    throw err
  }

  let reloading: Promise<boolean> | undefined
  const reload = () => {
    reloading ??= (async () => {
      try {
        const next = await buildRuntime(await loadConfig(options.config), {
          env,
          logger: signerLog,
        })
        // Requests in flight keep the runtime they started with; signers hold no resources.
        runtime = next
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

  const watched =
    typeof options.config === 'string' && options.watch !== false ? options.config : undefined
  if (watched) {
    watchFile(watched, { interval: 1000, persistent: false }, (curr, prev) => {
      if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) void reload()
    })
  }

  log.info({ proxy: url, admin: adminUrl }, 'kong-upstream-jwt gateway ready')

  let closing: Promise<void> | undefined
  return {
    url,
    adminUrl,
    metrics,
    reload,
    close() {
      closing ??= (async () => {
        if (watched) unwatchFile(watched)
        const closed = Promise.all([
          new Promise((r) => proxy.close(() => r(undefined))),
          admin ? new Promise((r) => admin.close(() => r(undefined))) : undefined,
        ])
        proxy.closeIdleConnections()
        admin?.closeAllConnections()
        const deadline = Date.now() + (options.drainTimeout ?? 10_000)
        while (inFlight > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20))
          proxy.closeIdleConnections()
        }
        proxy.closeAllConnections()
        await closed
        await upstreams.close()
        runtime.close()
        log.info({ drained: inFlight === 0 }, 'kong-upstream-jwt gateway stopped')
      })()
      return closing
    },
  }
}
