/**
 * Kong's side of the external-plugin protocol, written from Kong's mp_rpc: it starts the real
 * `kong-js-pluginserver`, speaks MessagePack-RPC over its Unix socket, and answers every PDK
 * call of an event from a request fixture, as Kong would, until the event returns.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { connect, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { Decoder, Encoder } from '@msgpack/msgpack'

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
  headers?: Record<string, string>
  body?: Buffer
  /** Simulates a Kong that cannot give the body: get_raw_body answers this instead. */
  rawBodyAnswer?: Buffer | null
  service?: {
    id: string
    name: string
    host?: string
    port?: number
    protocol?: string
    path?: string
  }
  consumer?: { id: string; username?: string; custom_id?: string }
  forwarded?: { scheme: string; host: string; port: number; path: string; query: string }
  /** Makes kong.log.err fail, to prove the plugin still ends the request. */
  failLog?: boolean
}

/** What the plugin did during one event. */
export interface EventResult {
  readonly calls: { method: string; args: unknown[] }[]
  readonly setHeaders: Record<string, string>
  readonly logs: string[]
  exit?: { status: number; body: unknown }
}

const STEP_BY_METHOD: Record<string, string> = {
  'kong.client.get_consumer': 'plugin.StepConsumer',
  'kong.router.get_service': 'plugin.StepService',
  'kong.router.get_route': 'plugin.StepRoute',
  'kong.request.get_headers': 'plugin.StepMultiMap',
  'kong.request.get_query': 'plugin.StepMultiMap',
}

function answer(
  req: KongRequest,
  result: EventResult,
  method: string,
  args: unknown[],
): { value?: unknown; error?: string } {
  switch (method) {
    case 'kong.request.get_headers': {
      // Kong sends header values as lists (fix_mmap), names in lower case.
      const out: Record<string, string[]> = {}
      for (const [k, v] of Object.entries(req.headers ?? {})) out[k.toLowerCase()] = [v]
      return { value: out }
    }
    case 'kong.request.get_raw_body':
      return {
        value: req.rawBodyAnswer !== undefined ? req.rawBodyAnswer : (req.body ?? Buffer.alloc(0)),
      }
    case 'kong.request.get_method':
      return { value: req.method ?? 'GET' }
    case 'kong.client.get_consumer':
      return { value: req.consumer }
    case 'kong.router.get_service':
      return { value: req.service }
    case 'kong.service.request.get_scheme':
      return { value: req.forwarded?.scheme }
    case 'kong.service.request.get_host':
      return { value: req.forwarded?.host }
    case 'kong.service.request.get_port':
      return { value: req.forwarded?.port }
    case 'kong.service.request.get_path':
      return { value: req.forwarded?.path }
    case 'kong.service.request.get_raw_query':
      return { value: req.forwarded?.query }
    case 'kong.service.request.set_header':
      if (typeof args[0] !== 'string' || typeof args[1] !== 'string')
        return { error: 'bad argument to set_header' }
      result.setHeaders[args[0].toLowerCase()] = args[1]
      return { value: undefined }
    case 'kong.service.request.set_headers': {
      const headers = args[0]
      if (typeof headers !== 'object' || headers === null)
        return { error: 'bad argument to set_headers' }
      for (const [k, v] of Object.entries(headers)) {
        if (typeof v !== 'string') return { error: 'bad argument to set_headers' }
        result.setHeaders[k.toLowerCase()] = v
      }
      return { value: undefined }
    }
    case 'kong.log.err':
      if (req.failLog) return { error: 'log buffer full' }
      result.logs.push(args.join(''))
      return { value: undefined }
    case 'kong.log.warn':
    case 'kong.log.notice':
      result.logs.push(args.join(''))
      return { value: undefined }
    case 'kong.response.exit':
      result.exit = { status: args[0] as number, body: args[1] }
      return { value: undefined }
    default:
      // Kong logs "could not find pdk method" and answers nil: a misspelt call is silent.
      result.logs.push(`could not find pdk method: ${method}`)
      return { value: undefined }
  }
}

/** Runs one event (phase) of a plugin instance, answering its PDK calls until it returns. */
export async function handleEvent(
  rpc: KongRpc,
  instanceId: number,
  phase: string,
  req: KongRequest,
): Promise<EventResult> {
  const result: EventResult = { calls: [], setHeaders: {}, logs: [] }
  let step = (await rpc.call('plugin.HandleEvent', {
    InstanceId: instanceId,
    EventName: phase,
  })) as { Data: unknown; EventId: number }
  for (let guard = 0; step.Data !== 'ret'; guard++) {
    if (guard > 100) throw new Error('too many PDK calls for one event')
    const { Method, Args } = step.Data as { Method: string; Args: unknown[] }
    result.calls.push({ method: Method, args: Args ?? [] })
    const { value, error } = answer(req, result, Method, Args ?? [])
    step = (await rpc.call(error ? 'plugin.StepError' : (STEP_BY_METHOD[Method] ?? 'plugin.Step'), {
      EventId: step.EventId,
      Data: error ?? value,
    })) as { Data: unknown; EventId: number }
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
