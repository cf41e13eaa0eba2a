import cluster, { type Worker } from 'node:cluster'
import { availableParallelism, totalmem } from 'node:os'
import type { Logger } from 'pino'
import { AggregatorRegistry } from 'prom-client'
import type { JsonWebKeySet } from '../signer/signer.js'
import { createAdminServer } from './admin.js'
import { loadConfig } from './config.js'
import { watchConfigFile } from './config-watch.js'
import type { Gateway, GatewayOptions, GatewayStatus } from './gateway.js'
import { listenOn } from './listen.js'
import { loadListenerTls } from './listener-tls.js'
import { buildRuntime } from './runtime.js'
import { THREADPOOL_CHOSEN_ENV, threadPoolSize, workerThreadPoolSize } from './threadpool.js'
import { usableMemory, workerExecArgv } from './young-generation.js'

/** Messages between the primary and its workers (besides prom-client's own). */
type ToWorker = { kup: 'reload'; id: number } | { kup: 'report'; id: number } | { kup: 'shutdown' }
type FromWorker =
  | { kup: 'ready'; url: string; sslUrl: string | undefined }
  | { kup: 'reloaded'; id: number; ok: boolean }
  | { kup: 'report'; id: number; status: GatewayStatus; jwks: JsonWebKeySet }

/** `--workers auto`: one event loop per core, as Kong's `nginx_worker_processes = auto`. */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers
}

/** Options of `startWorkers`: the gateway's, plus how many workers. */
export interface WorkersOptions extends GatewayOptions {
  readonly workers: number
  readonly logger: Logger
}

/** The primary process of a gateway running in several workers. */
export interface WorkerPool {
  readonly url: string
  /** The HTTPS listener's URL, with `listenSsl`. */
  readonly sslUrl: string | undefined
  readonly adminUrl: string | undefined
  /** Workers alive now. */
  live(): number
  /** Validates the configuration here, then reloads every worker; `false` if refused. */
  reload(): Promise<boolean>
  /** Drains every worker (SIGTERM semantics), then stops the admin listener. */
  close(): Promise<void>
}

const REPLY_TIMEOUT = 5000
const RESTART_MIN_MS = 250
const RESTART_MAX_MS = 30_000
const RESTART_STEADY_MS = 10_000

/**
 * The listener flags a replacement worker is given besides the primary's command line.
 * node:cluster closes a listener once no worker holds it, so the replacement of an only worker
 * binds it anew: asked for port 0, it would get a port nobody knows, so it is told the port the
 * first worker bound, on the host that was asked for. With more workers a replacement asks for
 * port 0 again, and is given the listener the others still hold.
 */
export function replacementListenArgs(
  options: Pick<WorkersOptions, 'workers' | 'listen' | 'listenSsl'>,
  url: string,
  sslUrl: string | undefined,
): string[] {
  if (options.workers !== 1) return []
  const at = (host: string, from: string) =>
    `${host.includes(':') ? `[${host}]` : host}:${new URL(from).port}`
  return [
    ...(options.listen?.port === 0 ? ['--listen', at(options.listen.host, url)] : []),
    ...(options.listenSsl?.port === 0 && sslUrl
      ? ['--listen-ssl', at(options.listenSsl.host, sslUrl)]
      : []),
  ]
}

/**
 * Runs inside a cluster worker: starts the gateway without an admin listener (the primary
 * serves it) and answers the primary's reload, report and shutdown messages; its metrics
 * registry is the one prom-client's AggregatorRegistry collects.
 */
export async function runWorker(options: GatewayOptions): Promise<Gateway> {
  let stopping = false
  // Leave by running out of work rather than process.exit(), so the last log lines are
  // written; the timer (unref'd) is the backstop should a handle stay open.
  const shutdown = () => {
    if (stopping) return
    stopping = true
    void gateway.close().then(() => {
      options.logger?.flush()
      setTimeout(() => process.exit(0), 2000).unref()
      process.disconnect?.()
    })
  }
  // Loaded here, not with this module: the primary, which imports it too, serves no requests,
  // and the request path (undici, the proxy) would be memory it never uses.
  const { startGateway } = await import('./gateway.js')
  const gateway = await startGateway({
    ...options,
    adminListen: false,
    watch: false,
    role: 'worker',
  })
  AggregatorRegistry.setRegistries([gateway.metrics.registry])
  new AggregatorRegistry() // installs prom-client's reply to the primary's metrics requests
  process.on('message', (message: ToWorker) => {
    if (message?.kup === 'reload') {
      void gateway.reload().then((ok) => process.send?.({ kup: 'reloaded', id: message.id, ok }))
    } else if (message?.kup === 'report') {
      const reply: FromWorker = {
        kup: 'report',
        id: message.id,
        status: gateway.status(),
        jwks: gateway.jwks(),
      }
      process.send?.(reply)
    } else if (message?.kup === 'shutdown') {
      shutdown()
    }
  })
  // A service manager may signal every process of the group (systemd's default KillMode,
  // Ctrl-C in a terminal): a worker drains on SIGTERM/SIGINT as on the primary's message, and
  // leaves SIGHUP to the primary, which reloads every worker.
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  process.on('SIGHUP', () => {})
  // Every listener open, every handler in place: the primary counts this worker as started.
  process.send?.({ kup: 'ready', url: gateway.url, sslUrl: gateway.sslUrl } satisfies FromWorker)
  return gateway
}

/**
 * Starts `workers` processes sharing the proxy listener (node:cluster, connections dealt
 * round-robin unless NODE_CLUSTER_SCHED_POLICY=none) and serves the admin listener from the primary:
 * `/metrics` summed over the workers, `/status` with a `workers` count, the JWKS merged (the
 * same keys whichever worker signs). A worker that dies is logged and replaced. The
 * configuration is checked here before any worker reloads, so a bad one is refused by all.
 *
 * @example
 * ```ts
 * if (cluster.isPrimary) await startWorkers({ config: 'kong.yml', workers: 2, logger })
 * else await runWorker({ config: 'kong.yml' })
 * ```
 */
export async function startWorkers(options: WorkersOptions): Promise<WorkerPool> {
  const log = options.logger
  // A bad configuration stops here, before any worker starts.
  const { rsa } = await checkConfig(options)
  // Connections are dealt round-robin by the primary (node:cluster's default on Linux), not
  // left to the kernel: with a shared socket the worker that wakes first accepts the whole
  // backlog, and keep-alive connections opened together (a load balancer's pool, wrk -c32)
  // stayed where they landed — 32/0, 30/2, 26/6 in 8 tries of 32 connections on 2 workers,
  // one worker's core saturated and the other idle. The price is a hop through the primary
  // per new connection (about 90 µs of CPU): NODE_CLUSTER_SCHED_POLICY=none, read by
  // node:cluster itself, gives the kernel's way back for clients that open a connection per
  // request.
  const aggregator = new AggregatorRegistry()
  let closing = false
  let nextId = 0
  const waiting = new Map<number, (message: FromWorker) => void>()
  // Workers that said they are ready (every listener open, message handlers installed): the
  // live ones. With --listen-ssl a worker has two listeners, and cluster's 'listening' events
  // do not tell them apart, so the worker's own word is what counts. Kept with when it said so:
  // a worker that dies soon after is replaced with a backoff (below), whose 'exit' listener
  // forgets it (a 'ready' handled after the worker died is not taken).
  const readyAt = new Map<Worker, number>()
  cluster.on('message', (worker, message: FromWorker) => {
    if (message?.kup === 'ready') {
      if (!worker.isDead()) readyAt.set(worker, Date.now())
    } else if (message && typeof message.kup === 'string') waiting.get(message.id)?.(message)
  })
  const alive = () => [...readyAt.keys()].filter((w) => w.isConnected())
  // A message to a worker that is leaving fails with EPIPE; that must not stop the primary
  // (prom-client's aggregator sends without a callback).
  cluster.on('fork', (worker) =>
    worker.on('error', (err: Error) =>
      log.warn({ worker: worker.id, error: err.message }, 'message to a worker failed'),
    ),
  )

  /** Sends a message to every live worker and collects the replies (a silent one is skipped). */
  const ask = <T extends FromWorker>(make: (id: number) => ToWorker): Promise<T[]> =>
    Promise.all(
      alive().map(
        (worker) =>
          new Promise<T | undefined>((resolve) => {
            const id = nextId++
            const timer = setTimeout(() => {
              waiting.delete(id)
              resolve(undefined)
            }, REPLY_TIMEOUT)
            waiting.set(id, (m) => {
              clearTimeout(timer)
              waiting.delete(id)
              resolve(m as T)
            })
            // A worker that has just left (its own SIGTERM) cannot be written to: no reply.
            worker.send(make(id), undefined, (err) => {
              if (err) waiting.get(id)?.(undefined as never)
            })
          }),
      ),
    ).then((replies) => replies.filter((r) => r !== undefined) as T[])

  let url = ''
  let sslUrl: string | undefined
  const allReady = new Promise<void>((resolve, reject) => {
    let ready = 0
    const onReady = (_w: Worker, message: FromWorker) => {
      if (message?.kup !== 'ready') return
      url ||= message.url
      sslUrl ??= message.sslUrl
      if (++ready === options.workers) {
        cluster.off('message', onReady)
        cluster.off('exit', onEarlyExit)
        resolve()
      }
    }
    const onEarlyExit = (w: Worker, code: number) =>
      reject(new Error(`worker ${w.id} exited with code ${code} while starting`))
    cluster.on('message', onReady)
    cluster.on('exit', onEarlyExit)
  })
  // The binary sized the pool for one process; each worker gets its share of the free cores.
  const workerEnv =
    process.env[THREADPOOL_CHOSEN_ENV] === undefined
      ? undefined
      : {
          // Sized for the keys at start; a reload to another key type keeps the workers' pools.
          UV_THREADPOOL_SIZE: String(
            workerThreadPoolSize(options.workers, availableParallelism(), rsa),
          ),
        }
  // One worker has nobody to share connections with: it accepts them itself, no hop through
  // the primary (unless NODE_CLUSTER_SCHED_POLICY, which node:cluster reads, says otherwise).
  const policy = process.env.NODE_CLUSTER_SCHED_POLICY
  if (options.workers === 1 && policy !== 'rr' && policy !== 'none')
    cluster.schedulingPolicy = cluster.SCHED_NONE
  const memory = usableMemory(totalmem(), process.constrainedMemory?.())
  cluster.setupPrimary({
    execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS, memory / options.workers),
  })
  const fork = () => cluster.fork(workerEnv)
  for (let i = 0; i < options.workers; i++) fork()
  await allReady.catch(async (err) => {
    closing = true
    for (const w of alive()) w.kill()
    throw err
  })
  const rebind = replacementListenArgs(options, url, sslUrl)
  if (rebind.length) cluster.setupPrimary({ args: [...process.argv.slice(2), ...rebind] })

  // Workers that died without serving RESTART_STEADY_MS in a row (a key file gone, a port
  // taken): each replacement waits twice as long as the one before, up to RESTART_MAX_MS, so a
  // worker that cannot start is not forked again and again at full speed.
  let quickDeaths = 0
  let restartTimer: NodeJS.Timeout | undefined
  cluster.on('exit', (worker, code, signal) => {
    const since = readyAt.get(worker)
    readyAt.delete(worker)
    if (closing) return
    quickDeaths =
      since !== undefined && Date.now() - since >= RESTART_STEADY_MS ? 0 : quickDeaths + 1
    const delay =
      quickDeaths <= 1 ? 0 : Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (quickDeaths - 2))
    log.error(
      { worker: worker.id, worker_pid: worker.process.pid, code, signal, restart_in_ms: delay },
      'worker died; starting a replacement',
    )
    if (delay === 0) fork()
    else
      restartTimer = setTimeout(() => {
        restartTimer = undefined
        if (!closing) fork()
      }, delay)
  })

  const admin =
    options.adminListen === false
      ? undefined
      : createAdminServer({
          async status() {
            const reports = await ask<Extract<FromWorker, { kup: 'report' }>>((id) => ({
              kup: 'report',
              id,
            }))
            const first = reports[0]?.status
            return {
              // No worker to answer (the only one died, its replacement not yet up): a health
              // check must not read the gateway as serving.
              status: reports.length ? 'ok' : 'unavailable',
              uptime_seconds: Math.max(0, ...reports.map((r) => r.status.uptime_seconds)),
              requests: {
                total: reports.reduce((n, r) => n + r.status.requests.total, 0),
                in_flight: reports.reduce((n, r) => n + r.status.requests.in_flight, 0),
              },
              config: first?.config,
              workers: alive().length,
            }
          },
          async metrics() {
            return { text: await aggregator.clusterMetrics(), contentType: aggregator.contentType }
          },
          async jwks() {
            const reports = await ask<Extract<FromWorker, { kup: 'report' }>>((id) => ({
              kup: 'report',
              id,
            }))
            // No worker answered: no key set rather than an empty one a verifier would cache.
            if (!reports.length) return undefined
            // Every worker's keys, by kid: during a key rotation that some workers have seen
            // and some not yet, a verifier needs both.
            const byKid = new Map<string, JsonWebKeySet['keys'][number]>()
            for (const r of reports) for (const k of r.jwks.keys) byKid.set(k.kid, k)
            return { keys: [...byKid.values()].sort((a, b) => (a.kid < b.kid ? -1 : 1)) }
          },
        })
  let adminUrl: string | undefined
  if (admin) {
    try {
      adminUrl = await listenOn(admin, options.adminListen || { host: '127.0.0.1', port: 8001 })
    } catch (err) {
      closing = true
      for (const w of alive()) w.kill()
      throw err
    }
  }

  let reloading: Promise<boolean> | undefined
  const reload = () => {
    reloading ??= (async () => {
      try {
        await checkConfig(options)
      } catch (err) {
        log.error(
          { error: (err as Error).message },
          'new configuration refused by every worker; keeping the running one',
        )
        return false
      }
      const replies = await ask<Extract<FromWorker, { kup: 'reloaded' }>>((id) => ({
        kup: 'reload',
        id,
      }))
      const ok = replies.every((r) => r.ok)
      log.info({ workers: replies.length, ok }, 'workers reloaded')
      return ok
    })().finally(() => {
      reloading = undefined
    })
    return reloading
  }
  const unwatch = watchConfigFile(options, () => void reload())
  log.info(
    {
      proxy: url,
      proxy_ssl: sslUrl,
      admin: adminUrl,
      workers: options.workers,
      sign_on: options.signOn ?? 'auto',
      threadpool: threadPoolSize(),
    },
    'kong-upstream-jwt gateway ready',
  )

  let closed: Promise<void> | undefined
  return {
    url,
    sslUrl,
    adminUrl,
    live: () => alive().length,
    reload,
    close() {
      closed ??= (async () => {
        closing = true
        clearTimeout(restartTimer)
        unwatch()
        const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w)
        const exited = Promise.all(
          workers.map(
            (w) =>
              new Promise<void>((resolve) => {
                if (w.isDead()) return resolve()
                w.once('exit', () => resolve())
                // Still starting (a replacement): nothing in flight, and no handler for the message.
                if (!readyAt.has(w)) return void w.process.kill('SIGTERM')
                const grace = (options.drainTimeout ?? 10_000) + 5000
                const killer = setTimeout(() => {
                  log.error(
                    { worker: w.id, worker_pid: w.process.pid, waited_ms: grace },
                    'worker did not stop after its drain; killing it',
                  )
                  w.process.kill('SIGKILL')
                }, grace)
                killer.unref()
                // Already leaving on its own signal (a group SIGTERM): nothing to tell it.
                if (w.isConnected())
                  w.send({ kup: 'shutdown' } satisfies ToWorker, undefined, () => {})
              }),
          ),
        )
        await exited
        if (admin) {
          admin.closeAllConnections()
          await new Promise((r) => admin.close(() => r(undefined)))
        }
        log.info({ workers: workers.length }, 'kong-upstream-jwt gateway stopped')
      })()
      return closed
    },
  }
}

/**
 * Loads and checks the configuration as a worker would, the HTTPS listener's certificates
 * included, without starting anything: every worker reads the same files, so what fails here
 * would fail in all of them. Says whether a signer uses an RSA key (the workers' pool size).
 */
async function checkConfig(options: WorkersOptions): Promise<{ rsa: boolean }> {
  const config = await loadConfig(options.config)
  if (options.ssl) await loadListenerTls(options.ssl, config.certificates ?? [])
  const runtime = await buildRuntime(config, { env: options.env })
  // The JWKS lists the key of every signer: RSA where one signs with an RSA key.
  const rsa = runtime.jwks().keys.some((key) => key.kty === 'RSA')
  runtime.close()
  return { rsa }
}
