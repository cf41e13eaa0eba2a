/**
 * Kong's side of the external-plugin protocol, written from Kong's mp_rpc: it starts the real
 * `kong-js-pluginserver`, speaks MessagePack-RPC over its Unix socket, and answers every PDK
 * call of an event from a request fixture, as Kong would, until the event returns. It answers
 * only methods Kong has (the list comes from kong-pdk's typings of Kong's PDK): a call to any
 * other is answered with nil, as Kong does, and then fails the event with the method's name.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { request } from 'node:http'
import { createRequire } from 'node:module'
import { connect, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { Decoder, Encoder } from '@msgpack/msgpack'
import { kongPdkMethods } from './kong-pdk-methods.js'
import {
  type EarlierPlugins,
  type KongRouteFixture,
  type KongServiceFixture,
  type KongUpstreamState,
  kongUpstreamState,
} from './kong-upstream.js'

const require = createRequire(import.meta.url)
export const PLUGIN_SERVER = join(
  dirname(require.resolve('kong-pdk/package.json')),
  'bin',
  'kong-js-pluginserver',
)

/**
 * The Node the plugin server runs on: `KONG_TEST_NODE` when set (test/kong/node-versions.test.ts
 * runs the plugin tests under each supported Node this way), else this one.
 */
export const PLUGIN_NODE = process.env.KONG_TEST_NODE ?? process.execPath

export interface PluginServer {
  readonly socket: string
  readonly child: ChildProcess
  output(): string
  stop(): Promise<void>
}

/** Starts the real plugin server on a socket in `prefix`; resolves once it listens. */
export async function startPluginServer(
  pluginsDir: string,
  prefix: string,
  env: Record<string, string> = {},
  options: { node?: string; server?: string } = {},
): Promise<PluginServer> {
  const socket = join(prefix, 'js_pluginserver.sock')
  const child = spawn(
    options.node ?? PLUGIN_NODE,
    [
      options.server ?? PLUGIN_SERVER,
      '--plugins-directory',
      pluginsDir,
      '--kong-prefix',
      prefix,
      '--sock-name',
      'js_pluginserver.sock',
    ],
    {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  child.stdout?.on('data', (d) => (out += d))
  child.stderr?.on('data', (d) => (out += d))
  // Ready means a connection is accepted, not that the socket file exists: the file appears at
  // bind(), before listen(), and a loaded machine can take seconds to load the plugins.
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`plugin server exited: ${out}`)
    if (await accepts(socket)) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`plugin server did not accept connections within 30 s: ${out}`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  return {
    socket,
    child,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path, () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => resolve(false))
  })
}

/** One MessagePack-RPC connection: `[0, id, method, params]` → `[1, id, error, result]`. */
export class KongRpc {
  #socket: Socket
  #encoder = new Encoder()
  #decoder = new Decoder()
  #buffer = Buffer.alloc(0)
  #id = 0
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', (chunk) => this.#onData(chunk))
  }

  static connect(path: string): Promise<KongRpc> {
    return new Promise((resolve, reject) => {
      const socket = connect(path, () => resolve(new KongRpc(socket)))
      socket.once('error', reject)
    })
  }

  #onData(chunk: Buffer) {
    this.#buffer = Buffer.concat([this.#buffer, chunk])
    for (;;) {
      let message: unknown
      try {
        message = this.#decoder.decode(this.#buffer)
      } catch {
        return // incomplete: wait for more
      }
      this.#buffer = Buffer.alloc(0)
      const [, id, error, result] = message as [number, number, string | null, unknown]
      const waiter = this.#pending.get(id)
      this.#pending.delete(id)
      if (error) waiter?.reject(new Error(String(error)))
      else waiter?.resolve(result)
      return
    }
  }

  call(method: string, ...params: unknown[]): Promise<unknown> {
    const id = ++this.#id
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#socket.write(this.#encoder.encode([0, id, method, params]))
    })
  }

  close() {
    this.#socket.destroy()
  }
}

/** The request Kong is handling, and the answers it gives to PDK calls about it. */
export interface KongRequest {
  method?: string
  /** The request target as the client sent it: path and query (default `/`). */
  target?: string
  headers?: Record<string, string>
  body?: Buffer
  /** Simulates a Kong that cannot give the body: get_raw_body answers this instead. */
  rawBodyAnswer?: Buffer | null
  service?: KongServiceFixture
  /** The matched route (default: paths `/`, strip_path true, preserve_host false). */
  route?: KongRouteFixture
  /** What plugins that ran before this one changed of the upstream request. */
  earlier?: EarlierPlugins
  consumer?: { id: string; username?: string; custom_id?: string }
  /** Makes kong.log.err fail, to prove the plugin still ends the request. */
  failLog?: boolean
}

/** What the plugin did during one event. */
export interface EventResult {
  readonly calls: { method: string; args: unknown[] }[]
  readonly setHeaders: Record<string, string>
  /** Names the plugin removed from the upstream request (`clear_header`), lower case. */
  readonly clearedHeaders: Set<string>
  readonly logs: string[]
  exit?: { status: number; body: unknown }
  /** What Kong computed for the upstream request, and what it forwards. */
  readonly upstream: KongUpstreamState
}

const STEP_BY_METHOD: Record<string, string> = {
  'kong.client.get_consumer': 'plugin.StepConsumer',
  'kong.router.get_service': 'plugin.StepService',
  'kong.router.get_route': 'plugin.StepRoute',
  'kong.request.get_headers': 'plugin.StepMultiMap',
  'kong.request.get_query': 'plugin.StepMultiMap',
}

type Answer = (
  req: KongRequest,
  result: EventResult,
  args: unknown[],
) => { value?: unknown; error?: string }

/** Kong's answers, by method; every key must be a method Kong has (a test checks it). */
export const ANSWERS: Readonly<Record<string, Answer>> = {
  'kong.request.get_headers': (req) => {
    // Kong sends header values as lists (fix_mmap), names in lower case.
    const out: Record<string, string[]> = {}
    for (const [k, v] of Object.entries(req.headers ?? {})) out[k.toLowerCase()] = [v]
    return { value: out }
  },
  'kong.request.get_raw_body': (req) => ({
    value: req.rawBodyAnswer !== undefined ? req.rawBodyAnswer : (req.body ?? Buffer.alloc(0)),
  }),
  'kong.request.get_method': (req) => ({ value: req.method ?? 'GET' }),
  // `var.args or ""`
  'kong.request.get_raw_query': (_req, result) => ({ value: result.upstream.vars.args ?? '' }),
  'kong.client.get_consumer': (req) => ({ value: req.consumer }),
  // The entity with the defaults Kong's schema gives it.
  'kong.router.get_service': (req) => ({
    value: req.service && { protocol: 'http', port: 80, path: null, ...req.service },
  }),
  'kong.router.get_route': (_req, result) => ({ value: result.upstream.route }),
  // `ngx.var[name]`: nil for a variable nginx does not have.
  'kong.nginx.get_var': (_req, result, args) => ({
    value: result.upstream.vars[String(args[0])],
  }),
  'kong.service.request.set_header': (_req, result, args) => {
    if (typeof args[0] !== 'string' || typeof args[1] !== 'string')
      return { error: 'bad argument to set_header' }
    result.setHeaders[args[0].toLowerCase()] = args[1]
    result.clearedHeaders.delete(args[0].toLowerCase())
    return { value: undefined }
  },
  'kong.service.request.clear_header': (_req, result, args) => {
    if (typeof args[0] !== 'string') return { error: 'bad argument to clear_header' }
    const name = args[0].toLowerCase()
    delete result.setHeaders[name]
    result.clearedHeaders.add(name)
    return { value: undefined }
  },
  'kong.service.request.set_headers': (_req, result, args) => {
    const headers = args[0]
    if (typeof headers !== 'object' || headers === null)
      return { error: 'bad argument to set_headers' }
    for (const [k, v] of Object.entries(headers)) {
      if (typeof v !== 'string') return { error: 'bad argument to set_headers' }
      result.setHeaders[k.toLowerCase()] = v
      result.clearedHeaders.delete(k.toLowerCase())
    }
    return { value: undefined }
  },
  'kong.log.err': (req, result, args) => {
    if (req.failLog) return { error: 'log buffer full' }
    result.logs.push(args.join(''))
    return { value: undefined }
  },
  'kong.log.warn': (_req, result, args) => {
    result.logs.push(args.join(''))
    return { value: undefined }
  },
  'kong.log.notice': (_req, result, args) => {
    result.logs.push(args.join(''))
    return { value: undefined }
  },
  'kong.response.exit': (_req, result, args) => {
    result.exit = { status: args[0] as number, body: args[1] }
    return { value: undefined }
  },
}

/**
 * Runs one event (phase) of a plugin instance, answering its PDK calls until it returns.
 * Rejects, naming them, when the plugin called PDK methods Kong does not have.
 */
export async function handleEvent(
  rpc: KongRpc,
  instanceId: number,
  phase: string,
  req: KongRequest,
): Promise<EventResult> {
  const known = await kongPdkMethods()
  const upstream = kongUpstreamState(
    req.method ?? 'GET',
    req.target ?? '/',
    req.headers ?? {},
    req.service,
    req.route,
    req.earlier,
  )
  const result: EventResult = {
    calls: [],
    setHeaders: {},
    clearedHeaders: new Set(),
    logs: [],
    upstream,
  }
  const unknown: string[] = []
  let step = (await rpc.call('plugin.HandleEvent', {
    InstanceId: instanceId,
    EventName: phase,
  })) as { Data: unknown; EventId: number }
  for (let guard = 0; step.Data !== 'ret'; guard++) {
    if (guard > 100) throw new Error('too many PDK calls for one event')
    const { Method, Args } = step.Data as { Method: string; Args: unknown[] }
    result.calls.push({ method: Method, args: Args ?? [] })
    const respond = known.has(Method) ? ANSWERS[Method] : undefined
    if (!known.has(Method)) unknown.push(Method)
    // Kong logs "could not find pdk method" and answers nil; a method Kong has that this
    // fixture does not model is a gap in the test, reported the same way.
    if (!respond) result.logs.push(`could not find pdk method: ${Method}`)
    const { value, error } = respond ? respond(req, result, Args ?? []) : { value: undefined }
    step = (await rpc.call(error ? 'plugin.StepError' : (STEP_BY_METHOD[Method] ?? 'plugin.Step'), {
      EventId: step.EventId,
      Data: error ?? value,
    })) as { Data: unknown; EventId: number }
  }
  if (unknown.length > 0) {
    throw new Error(
      `the plugin called PDK methods Kong does not have: ${[...new Set(unknown)].join(', ')}`,
    )
  }
  const unanswered = result.calls.filter((c) => !ANSWERS[c.method]).map((c) => c.method)
  if (unanswered.length > 0) {
    throw new Error(`the test Kong side does not model: ${[...new Set(unanswered)].join(', ')}`)
  }
  return result
}

/** StartInstance as Kong sends it: the config as JSON, with Kong's bookkeeping keys. */
export async function startInstance(
  rpc: KongRpc,
  config: Record<string, unknown>,
): Promise<number> {
  const status = (await rpc.call('plugin.StartInstance', {
    Name: 'kong-upstream-jwt',
    Config: JSON.stringify({
      ...config,
      __key__: `plugins:${Math.random()}`,
      __seq__: 1,
      __plugin_id: 'a1b2',
    }),
  })) as { Id: number }
  return status.Id
}

/**
 * The headers Kong sends upstream after the access phase: the client's, less those the plugin
 * cleared, with those it set.
 */
export function forwardedHeaders(result: EventResult, req: KongRequest): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers ?? {})) {
    if (!result.clearedHeaders.has(k.toLowerCase())) headers[k.toLowerCase()] = v
  }
  return Object.assign(headers, result.setHeaders)
}

/**
 * Sends the request to the service as Kong does once the access phase is over: the method, the
 * target Kong built (`$upstream_uri` and the query), Kong's Host, the client's headers and the
 * ones the plugin set, and the body. Resolves with the upstream's status.
 */
export function forwardAsKong(result: EventResult, req: KongRequest): Promise<number> {
  const f = result.upstream.forwarded
  if (!f) throw new Error('test fixture: forwarding needs a service with a host')
  if (result.exit) throw new Error(`the plugin ended the request with ${result.exit.status}`)
  const headers: Record<string, string> = { ...forwardedHeaders(result, req), host: f.hostHeader }
  return new Promise((resolve, reject) => {
    const out = request(
      { host: f.host, port: f.port, method: f.method, path: f.target, headers },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    out.on('error', reject)
    out.end(req.body)
  })
}
