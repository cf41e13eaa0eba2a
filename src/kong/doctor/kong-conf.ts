/**
 * Kong's configuration as Kong reads it (kong/conf_loader): `kong.conf` lines `key = value`
 * (`#` starts a comment unless escaped as `\#`), the built-in defaults, and `KONG_<KEY>`
 * environment variables winning over both. Only the properties `kong doctor` needs.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { fileExists } from '../../core/file-exists.js'

/** Where Kong looks for kong.conf when none is given (conf_loader DEFAULT_PATHS). */
export const DEFAULT_CONF_PATHS = ['/etc/kong/kong.conf', '/etc/kong.conf'] as const

/** Kong's built-in defaults (kong/templates/kong_defaults.lua) for the properties read here. */
const DEFAULTS: Readonly<Record<string, string>> = {
  prefix: '/usr/local/kong/',
  plugins: 'bundled',
  database: 'postgres',
  declarative_config: '',
  pluginserver_names: '',
  nginx_main_env: '',
  nginx_http_client_body_buffer_size: '8k',
  proxy_listen:
    '0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384',
  stream_listen: 'off',
  ssl_cert: '',
}

/** A Kong configuration: the file that was read (if any) and a lookup by property name. */
export interface KongConf {
  /** The kong.conf that was read, or undefined when none exists (defaults and env only). */
  readonly file: string | undefined
  /** The value of a property: `KONG_<KEY>`, else kong.conf, else Kong's default, else ''. */
  get(key: string): string
  /** A comma-separated property as a list (Kong's array properties). */
  list(key: string): string[]
  /** Where a property's value came from, for messages. */
  source(key: string): string
}

/** Parses kong.conf text into properties (the last line for a key wins, as in Penlight). */
export function parseKongConf(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of text.split(/\r?\n/)) {
    // An unescaped # starts a comment; `\#` is a literal # (conf_loader strips the backslash).
    const line = raw
      .replace(/(^|[^\\])#.*$/, '$1')
      .replace(/\\#/g, '#')
      .trim()
    const eq = line.indexOf('=')
    if (eq <= 0) continue
    const key = line.slice(0, eq).trim()
    let value = line.slice(eq + 1).trim()
    if (value === 'NONE') value = ''
    out[key] = value
  }
  return out
}

/**
 * Reads Kong's configuration: `file` (which must exist), or the first of Kong's default paths
 * that exists, or none; `env` is Kong's environment.
 */
export async function loadKongConf(
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<KongConf> {
  let path = file
  if (path === undefined) {
    for (const candidate of DEFAULT_CONF_PATHS) {
      if (await fileExists(candidate)) {
        path = candidate
        break
      }
    }
  }
  const fromFile = path === undefined ? {} : parseKongConf(await readFile(path, 'utf8'))
  const envName = (key: string) => `KONG_${key.toUpperCase()}`
  const get = (key: string): string => {
    const fromEnv = env[envName(key)]
    if (fromEnv !== undefined) return fromEnv.trim() === 'NONE' ? '' : fromEnv.trim()
    return fromFile[key] ?? DEFAULTS[key] ?? ''
  }
  return {
    file: path,
    get,
    list: (key) =>
      get(key)
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    source: (key) =>
      env[envName(key)] !== undefined
        ? `from ${envName(key)}`
        : key in fromFile
          ? `from ${path}`
          : "Kong's default",
  }
}

/** The variables `env` directives pass to nginx's workers, from `nginx_main_env`. */
export function nginxEnvNames(value: string): string[] {
  // Kong writes `env <value>;`; a value "A; env B" is the usual way to pass several.
  return value
    .split(';')
    .map((part) => part.trim().replace(/^env\s+/, ''))
    .map((part) => part.split('=')[0]?.trim() ?? '')
    .filter((name) => name !== '')
}

/** nginx sizes (`8k`, `1m`, `1g`, bytes) in bytes; undefined when not a size. */
export function nginxSize(value: string): number | undefined {
  const m = /^(\d+)([kKmMgG]?)$/.exec(value.trim())
  if (!m) return undefined
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()] ?? 1
  return Number(m[1]) * unit
}

/** Whether a Kong listen property (`proxy_listen`, `stream_listen`) enables TLS somewhere. */
export function listensWithSsl(value: string): boolean {
  return value.split(',').some((entry) => /\sssl(\s|$)/.test(` ${entry.trim()} `))
}
