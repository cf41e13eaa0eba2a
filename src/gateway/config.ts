/**
 * Kong's declarative configuration (`kong.yml`, `_format_version: "3.0"`), the subset the
 * gateway runs: services, routes, consumers, the `kong-upstream-jwt` and `key-auth` plugins, and
 * the TLS entities (`certificates`, `ca_certificates`, `snis`; see config-tls.ts).
 * Anything else is refused by name, never silently ignored.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { defaultPort } from '../core/defaults.js'
import type { PathHandling } from '../core/forwarded.js'
import { resolveOptions } from '../options/resolve.js'
import type { SignerOptions } from '../options/table.js'
import {
  bool,
  fail,
  GatewayConfigError,
  int,
  known,
  list,
  object,
  stableId,
  str,
  strings,
} from './config-fields.js'
import {
  type CertificateEntry,
  parseTlsEntities,
  serviceTls,
  TLS_SERVICE_FIELDS,
  type TlsEntities,
  type UpstreamTls,
} from './config-tls.js'

export { GatewayConfigError }

export interface KeyAuthConfig {
  readonly key_names: readonly string[]
  readonly hide_credentials: boolean
  readonly key_in_header: boolean
  readonly key_in_query: boolean
}

export interface PluginEntry {
  readonly name: 'kong-upstream-jwt' | 'key-auth'
  readonly enabled: boolean
  readonly config: Record<string, unknown>
  /** Where it was declared, for messages: `global`, `service orders`, `route orders-api`. */
  readonly scope: string
}

export interface ServiceEntry {
  readonly id: string
  readonly name: string
  readonly protocol: 'http' | 'https'
  readonly host: string
  readonly port: number
  readonly path: string
  readonly connect_timeout: number
  readonly read_timeout: number
  readonly write_timeout: number
  readonly retries: number
  readonly plugins: readonly PluginEntry[]
  /** https only: trust, verification and client certificate (Kong's `tls_verify`, …). */
  readonly tls?: UpstreamTls | undefined
}

export interface RouteEntry {
  readonly id: string
  readonly name: string | undefined
  readonly service: ServiceEntry
  readonly paths: readonly string[]
  readonly hosts: readonly string[]
  readonly methods: readonly string[]
  readonly strip_path: boolean
  readonly preserve_host: boolean
  readonly regex_priority: number
  /** How the service path and the request path are joined (Kong's default `v0`). */
  readonly path_handling: PathHandling
  readonly plugins: readonly PluginEntry[]
}

export interface ConsumerEntry {
  readonly id: string
  readonly username: string | undefined
  readonly custom_id: string | undefined
  readonly keys: readonly string[]
}

/** A validated declarative configuration. */
export interface GatewayConfig {
  readonly services: readonly ServiceEntry[]
  readonly routes: readonly RouteEntry[]
  readonly plugins: readonly PluginEntry[]
  readonly consumers: readonly ConsumerEntry[]
  /** `certificates` entities: the HTTPS listener serves those with `snis` by name. */
  readonly certificates?: readonly CertificateEntry[]
}

const TOP = [
  '_format_version',
  '_transform',
  'services',
  'routes',
  'plugins',
  'consumers',
  'certificates',
  'ca_certificates',
  'snis',
]
const SERVICE = [
  'name',
  'id',
  'url',
  'protocol',
  'host',
  'port',
  'path',
  'connect_timeout',
  'read_timeout',
  'write_timeout',
  'retries',
  'routes',
  'plugins',
  'tags',
  'enabled',
  ...TLS_SERVICE_FIELDS,
]
const ROUTE = [
  'name',
  'id',
  'paths',
  'hosts',
  'methods',
  'strip_path',
  'preserve_host',
  'regex_priority',
  'protocols',
  'service',
  'plugins',
  'tags',
  'path_handling',
  'https_redirect_status_code',
  'request_buffering',
  'response_buffering',
]
const PLUGIN = ['name', 'id', 'config', 'enabled', 'service', 'route', 'protocols', 'tags']
const CONSUMER = ['username', 'id', 'custom_id', 'keyauth_credentials', 'tags']
const KEY_AUTH = [
  'key_names',
  'hide_credentials',
  'key_in_header',
  'key_in_query',
  'key_in_body',
  'anonymous',
  'run_on_preflight',
  'realm',
]

function plugin(value: unknown, scope: string): PluginEntry & { service?: string; route?: string } {
  const raw = object(value, `plugin in ${scope}`)
  const name = str(raw, 'name', `plugin in ${scope}`)
  const where = `plugin ${name ?? '?'} (${scope})`
  known(raw, PLUGIN, where)
  if (name !== 'kong-upstream-jwt' && name !== 'key-auth') {
    fail(`${where}: this gateway runs only the kong-upstream-jwt and key-auth plugins`)
  }
  const config =
    raw.config === undefined || raw.config === null ? {} : object(raw.config, `${where}: config`)
  if (name === 'kong-upstream-jwt') {
    try {
      resolveOptions(config, { env: {} })
    } catch (err) {
      fail(`${where}: ${(err as Error).message}`)
    }
  } else {
    known(config, KEY_AUTH, `${where}: config`)
    if (config.key_in_body === true) fail(`${where}: config.key_in_body is not supported`)
    if (config.anonymous !== undefined && config.anonymous !== null)
      fail(`${where}: config.anonymous is not supported`)
  }
  const ref = (key: 'service' | 'route') => {
    const r = raw[key]
    if (r === undefined || r === null) return undefined
    if (typeof r === 'string') return r
    const o = object(r, `${where}: ${key}`)
    return (str(o, 'name', where) ?? str(o, 'id', where)) as string
  }
  return {
    name,
    enabled: bool(raw, 'enabled', where, true),
    config,
    scope,
    service: ref('service'),
    route: ref('route'),
  }
}

/** key-auth's configuration with Kong's defaults. */
export function keyAuthConfig(entry: PluginEntry): KeyAuthConfig {
  const c = entry.config
  const where = `plugin key-auth (${entry.scope})`
  const names =
    c.key_names === undefined || c.key_names === null ? ['apikey'] : strings(c, 'key_names', where)
  return {
    key_names: names,
    hide_credentials: bool(c, 'hide_credentials', where, false),
    key_in_header: bool(c, 'key_in_header', where, true),
    key_in_query: bool(c, 'key_in_query', where, true),
  }
}

/** The signer options of a kong-upstream-jwt plugin entry. */
export function signerOptionsOf(entry: PluginEntry): SignerOptions {
  return entry.config as SignerOptions
}

function service(
  value: unknown,
  index: number,
  tlsEntities: TlsEntities,
): ServiceEntry & { routesRaw: unknown[]; pluginsRaw: unknown[] } {
  const raw = object(value, `services[${index}]`)
  const name =
    str(raw, 'name', `services[${index}]`) ?? fail(`services[${index}]: "name" is required`)
  const where = `service ${name}`
  known(raw, SERVICE, where)
  let protocol = str(raw, 'protocol', where) ?? 'http'
  let host = str(raw, 'host', where)
  let port = raw.port as number | undefined
  let path = str(raw, 'path', where)
  const url = str(raw, 'url', where)
  if (url !== undefined) {
    if (
      host !== undefined ||
      raw.port !== undefined ||
      raw.path !== undefined ||
      raw.protocol !== undefined
    ) {
      fail(`${where}: give either "url" or protocol/host/port/path, not both`)
    }
    let u: URL
    try {
      u = new URL(url)
    } catch {
      fail(`${where}: "url" is not a URL`)
    }
    protocol = u.protocol.slice(0, -1)
    host = u.hostname.replace(/^\[|\]$/g, '')
    port = u.port === '' ? undefined : Number(u.port)
    path = u.pathname
  }
  if (protocol !== 'http' && protocol !== 'https')
    fail(`${where}: protocol "${protocol}" is not supported (http, https)`)
  if (host === undefined) fail(`${where}: "host" or "url" is required`)
  const resolvedPort = port ?? defaultPort(protocol)
  if (!Number.isInteger(resolvedPort) || resolvedPort < 1 || resolvedPort > 65535) {
    fail(`${where}: "port" must be an integer between 1 and 65535`)
  }
  if (path !== undefined && !path.startsWith('/')) fail(`${where}: "path" must start with /`)
  return {
    id: str(raw, 'id', where) ?? stableId('service', name),
    name,
    protocol,
    host,
    port: resolvedPort,
    path: path ?? '/',
    connect_timeout: int(raw, 'connect_timeout', where, 60_000, 1, 2 ** 31 - 2),
    read_timeout: int(raw, 'read_timeout', where, 60_000, 1, 2 ** 31 - 2),
    write_timeout: int(raw, 'write_timeout', where, 60_000, 1, 2 ** 31 - 2),
    retries: int(raw, 'retries', where, 5, 0, 32_767),
    plugins: [],
    tls: serviceTls(raw, where, protocol, tlsEntities),
    routesRaw: list(raw.routes, `${where}: "routes"`),
    pluginsRaw: list(raw.plugins, `${where}: "plugins"`),
  }
}

function route(
  value: unknown,
  svc: ServiceEntry | undefined,
  services: Map<string, ServiceEntry>,
  index: string,
): RouteEntry & { pluginsRaw: unknown[] } {
  const raw = object(value, `route ${index}`)
  const name = str(raw, 'name', `route ${index}`)
  const where = `route ${name ?? index}`
  known(raw, ROUTE, where)
  let target = svc
  if (!target) {
    const ref = raw.service
    const key =
      typeof ref === 'string'
        ? ref
        : ref
          ? (str(object(ref, where), 'name', where) ?? str(object(ref, where), 'id', where))
          : undefined
    if (key === undefined) fail(`${where}: "service" is required for a top-level route`)
    target = services.get(key) ?? fail(`${where}: service "${key}" is not defined`)
  } else if (raw.service !== undefined) {
    fail(`${where}: a route nested in a service must not name a "service"`)
  }
  const paths = strings(raw, 'paths', where)
  for (const p of paths) {
    if (p.startsWith('~')) {
      try {
        new RegExp(p.slice(1))
      } catch {
        fail(`${where}: path ${JSON.stringify(p)} is not a valid regular expression`)
      }
    } else if (!p.startsWith('/'))
      fail(`${where}: path ${JSON.stringify(p)} must start with / (or ~ for a regex)`)
  }
  const hosts = strings(raw, 'hosts', where).map((h) => h.toLowerCase())
  const methods = strings(raw, 'methods', where).map((m) => m.toUpperCase())
  if (paths.length + hosts.length + methods.length === 0)
    fail(`${where}: needs at least one of paths, hosts or methods`)
  const pathHandling = str(raw, 'path_handling', where) ?? 'v0'
  if (pathHandling !== 'v0' && pathHandling !== 'v1')
    fail(`${where}: path_handling must be v0 or v1`)
  const protocols = strings(raw, 'protocols', where)
  if (protocols.some((p) => p !== 'http' && p !== 'https'))
    fail(`${where}: only http and https protocols are supported`)
  return {
    id: str(raw, 'id', where) ?? stableId('route', `${target.name}:${name ?? index}`),
    name,
    service: target,
    paths,
    hosts,
    methods,
    strip_path: bool(raw, 'strip_path', where, true),
    preserve_host: bool(raw, 'preserve_host', where, false),
    regex_priority: int(raw, 'regex_priority', where, 0, -(2 ** 31), 2 ** 31 - 1),
    path_handling: pathHandling,
    plugins: [],
    pluginsRaw: list(raw.plugins, `${where}: "plugins"`),
  }
}

function consumer(value: unknown, index: number): ConsumerEntry {
  const raw = object(value, `consumers[${index}]`)
  const username = str(raw, 'username', `consumers[${index}]`)
  const customId = str(raw, 'custom_id', `consumers[${index}]`)
  const where = `consumer ${username ?? customId ?? index}`
  known(raw, CONSUMER, where)
  if (username === undefined && customId === undefined)
    fail(`${where}: "username" or "custom_id" is required`)
  const keys = list(raw.keyauth_credentials, `${where}: "keyauth_credentials"`).map((c, i) => {
    const cred = object(c, `${where}: keyauth_credentials[${i}]`)
    known(cred, ['key', 'id', 'tags', 'ttl'], `${where}: keyauth_credentials[${i}]`)
    return str(cred, 'key', where) ?? fail(`${where}: keyauth_credentials[${i}] needs a "key"`)
  })
  return {
    id: str(raw, 'id', where) ?? stableId('consumer', username ?? customId ?? ''),
    username,
    custom_id: customId,
    keys,
  }
}

/**
 * Validates a parsed declarative configuration.
 *
 * @example
 * ```ts
 * const config = parseConfig({ _format_version: '3.0', services: [{ name: 's', url: 'http://127.0.0.1:3000', routes: [{ paths: ['/'] }] }], plugins: [{ name: 'kong-upstream-jwt' }] })
 * ```
 * @throws {GatewayConfigError} naming the entity and field at fault
 */
export function parseConfig(input: unknown): GatewayConfig {
  const raw = object(input, 'the configuration')
  known(raw, TOP, 'the configuration')
  const version = raw._format_version
  if (version !== '3.0' && version !== '2.1' && version !== '1.1') {
    fail('the configuration: "_format_version" must be "3.0" (or 2.1/1.1)')
  }
  const tlsEntities = parseTlsEntities(raw)
  const services = new Map<string, ServiceEntry & { routesRaw: unknown[]; pluginsRaw: unknown[] }>()
  list(raw.services, '"services"').forEach((v, i) => {
    const s = service(v, i, tlsEntities)
    if (services.has(s.name)) fail(`service ${s.name}: defined twice`)
    services.set(s.name, s)
    services.set(s.id, s)
  })
  const routes: (RouteEntry & { pluginsRaw: unknown[] })[] = []
  for (const s of new Set(services.values())) {
    for (const [i, r] of s.routesRaw.entries())
      routes.push(route(r, s, services, `${s.name}[${i}]`))
  }
  for (const [i, r] of list(raw.routes, '"routes"').entries()) {
    routes.push(route(r, undefined, services, `routes[${i}]`))
  }
  const byRouteName = new Map(
    routes.flatMap((r) =>
      r.name ? [[r.name, r] as const, [r.id, r] as const] : [[r.id, r] as const],
    ),
  )
  const global: PluginEntry[] = []
  const attach = (entry: PluginEntry & { service?: string; route?: string }) => {
    if (entry.route !== undefined) {
      const r =
        byRouteName.get(entry.route) ??
        fail(`plugin ${entry.name}: route "${entry.route}" is not defined`)
      ;(r.plugins as PluginEntry[]).push({ ...entry, scope: `route ${r.name ?? r.id}` })
    } else if (entry.service !== undefined) {
      const s =
        services.get(entry.service) ??
        fail(`plugin ${entry.name}: service "${entry.service}" is not defined`)
      ;(s.plugins as PluginEntry[]).push({ ...entry, scope: `service ${s.name}` })
    } else global.push(entry)
  }
  for (const s of new Set(services.values())) {
    for (const p of s.pluginsRaw) attach({ ...plugin(p, `service ${s.name}`), service: s.name })
  }
  for (const r of routes) {
    for (const p of r.pluginsRaw)
      attach({ ...plugin(p, `route ${r.name ?? r.id}`), route: r.name ?? r.id })
  }
  for (const p of list(raw.plugins, '"plugins"')) attach(plugin(p, 'global'))
  const consumers = list(raw.consumers, '"consumers"').map((c, i) => consumer(c, i))
  const seenKeys = new Set<string>()
  for (const c of consumers) {
    for (const k of c.keys) {
      if (seenKeys.has(k)) fail(`consumer ${c.username ?? c.id}: a key-auth key is used twice`)
      seenKeys.add(k)
    }
  }
  const config: GatewayConfig = {
    services: [...new Set(services.values())].map(({ routesRaw: _r, pluginsRaw: _p, ...s }) => s),
    routes: routes.map(({ pluginsRaw: _p, ...r }) => r),
    plugins: global,
    consumers,
    certificates: [...tlsEntities.certificates.values()],
  }
  // Fail closed: a route that would proxy without signing is a configuration error.
  for (const r of config.routes) {
    if (!effectivePlugin(config, r, 'kong-upstream-jwt')) {
      fail(
        `route ${r.name ?? r.id}: no enabled kong-upstream-jwt plugin applies (add it globally, to service ${r.service.name} or to the route); this gateway never forwards unsigned`,
      )
    }
  }
  return config
}

/** The plugin of that name that applies to a route: route, then service, then global (Kong's precedence). */
export function effectivePlugin(
  config: GatewayConfig,
  r: RouteEntry,
  name: PluginEntry['name'],
): PluginEntry | undefined {
  const scopes = [r.plugins, r.service.plugins, config.plugins]
  for (const scope of scopes) {
    const found = scope.find((p) => p.name === name)
    if (found) return found.enabled ? found : undefined
  }
  return undefined
}

/**
 * Reads and validates a `kong.yml` (YAML or JSON).
 *
 * @throws {GatewayConfigError}
 */
export async function loadConfigFile(file: string): Promise<GatewayConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new GatewayConfigError(
      `configuration file cannot be read: ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: err },
    )
  }
  let data: unknown
  try {
    data = parseYaml(text)
  } catch (err) {
    throw new GatewayConfigError(
      `configuration file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      { cause: err },
    )
  }
  return parseConfig(data)
}

/**
 * Where a gateway's configuration comes from: a `kong.yml` path, Kong's declarative object, a
 * parsed configuration, or a function making the object (called again on every reload).
 */
export type ConfigSource =
  | string
  | GatewayConfig
  | Record<string, unknown>
  | (() => Promise<Record<string, unknown>>)

/**
 * Reads a gateway configuration from any {@link ConfigSource}.
 *
 * @example
 * ```ts
 * const config = await loadConfig('kong.yml')
 * ```
 */
export async function loadConfig(source: ConfigSource): Promise<GatewayConfig> {
  if (typeof source === 'string') return loadConfigFile(source)
  if (typeof source === 'function') return parseConfig(await source())
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
