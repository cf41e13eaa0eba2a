/**
 * `kong doctor`: checks a Kong node's setup for this plugin as Kong would read it, and says
 * for each failure the line that fixes it. The checks answer the original plugin's most common
 * complaint, "no JWT header appears", which is nearly always a setup mistake.
 * @module
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileExists } from '../../core/file-exists.js'
import { resolveOptions } from '../../options/resolve.js'
import { OPTIONS, type OptionSpec } from '../../options/table.js'
import { loadKeyMaterial } from '../../signer/keys.js'
import { NAME, PRIORITY } from '../plugin.js'
import { isExecutable, PLUGIN_SERVER_BIN } from '../pluginserver.js'
import { cannotRead, cannotWriteIn, lookupUser, type UnixUser } from './access.js'
import { type PluginEntryRef, pluginEntries } from './declarative.js'
import {
  DEFAULT_CONF_PATHS,
  type KongConf,
  listensWithSsl,
  loadKongConf,
  nginxEnvNames,
  nginxSize,
} from './kong-conf.js'

/** One line of the report. `fix` is the line that repairs a failure (null when it passed). */
export interface DoctorCheck {
  readonly name: string
  readonly ok: boolean
  readonly message: string
  readonly fix: string | null
}

/** The whole report: `ok` when every check passed. */
export interface DoctorReport {
  readonly ok: boolean
  readonly checks: readonly DoctorCheck[]
}

/** What to diagnose. */
export interface DoctorInput {
  /** kong.conf; default: the first of /etc/kong/kong.conf, /etc/kong.conf that exists. */
  readonly conf?: string | undefined
  /** The user Kong's nginx workers run as (nginx_user), who starts the plugin server. */
  readonly user: string
  /** Kong's version, `major.minor[.patch]`. */
  readonly kongVersion: string
  /** A custom nginx template given to `kong start --nginx-conf`, scanned for `env` lines. */
  readonly nginxTemplate?: string | undefined
  /** Kong's environment (KONG_* variables). */
  readonly env: Readonly<Record<string, string | undefined>>
}

/** The variables the plugin reads (options with an `env` override). */
const KEY_VARIABLES = (Object.values(OPTIONS) as OptionSpec[]).flatMap((spec) =>
  spec.env ? [spec.env] : [],
)

const pass = (name: string, message: string): DoctorCheck => ({
  name,
  ok: true,
  message,
  fix: null,
})
const fail = (name: string, message: string, fix: string): DoctorCheck => ({
  name,
  ok: false,
  message,
  fix,
})

/** A plugin server command line, as far as the checks need it. */
interface ServerCommand {
  readonly executable: string | undefined
  /** A Node named before the plugin server (`/usr/bin/node kong-js-pluginserver ...`). */
  readonly interpreter: string | undefined
  readonly pluginsDir: string | undefined
  readonly kongPrefix: string
  readonly sockName: string
}

function optionValue(words: string[], names: string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    for (const n of names) {
      if (w === n) return words[i + 1]
      if (w.startsWith(`${n}=`)) return w.slice(n.length + 1)
    }
  }
  return undefined
}

/** Reads a start or query command (split on blanks; Kong hands it to a shell). */
export function parseServerCommand(command: string): ServerCommand {
  const words = command.trim().split(/\s+/)
  const at = words.findIndex((w) => basename(w) === PLUGIN_SERVER_BIN)
  return {
    executable: at >= 0 ? words[at] : undefined,
    interpreter: at > 0 ? words[0] : undefined,
    pluginsDir: optionValue(words, ['--plugins-directory', '-plugins-directory', '-d']),
    kongPrefix: optionValue(words, ['--kong-prefix', '-kong-prefix', '-p']) ?? '/usr/local/kong',
    sockName: optionValue(words, ['--sock-name']) ?? 'js_pluginserver.sock',
  }
}

interface Server {
  readonly name: string
  readonly start: string
  readonly query: string
  readonly socket: string
  readonly command: ServerCommand
}

/** Kong's pluginserver_<name>_* settings, with Kong's defaults (conf_loader). */
async function pluginServers(conf: KongConf): Promise<Server[]> {
  const prefix = conf.get('prefix').replace(/\/+$/, '')
  const out: Server[] = []
  for (const raw of conf.list('pluginserver_names')) {
    const name = raw.toLowerCase()
    const key = `pluginserver_${name.replace(/-/g, '_')}`
    const fallback = `/usr/local/bin/${name}`
    const hasFallback = await fileExists(fallback)
    const start = conf.get(`${key}_start_cmd`) || (hasFallback ? fallback : '')
    const query = conf.get(`${key}_query_cmd`) || (hasFallback ? `${fallback} -dump` : '')
    out.push({
      name,
      start,
      query,
      socket: conf.get(`${key}_socket`) || `${prefix}/${name}.socket`,
      command: parseServerCommand(start || query),
    })
  }
  return out
}

const FIX_SERVER = (dir: string) =>
  `kong-upstream-jwt kong config --plugins-dir ${dir}   # prints the pluginserver_* lines`

async function checkPluginServer(
  conf: KongConf,
  servers: Server[],
): Promise<{ check: DoctorCheck; server?: Server }> {
  const name = 'pluginserver'
  if (servers.length === 0) {
    return {
      check: fail(
        name,
        `pluginserver_names is not set (${conf.source('pluginserver_names')}): Kong starts no plugin server`,
        `pluginserver_names = js, then: ${FIX_SERVER('/usr/local/kong/js-plugins')}`,
      ),
    }
  }
  const ours = servers.filter(
    (s) => parseServerCommand(s.query).executable !== undefined || s.command.executable,
  )
  if (ours.length === 0) {
    return {
      check: fail(
        name,
        `no plugin server in pluginserver_names (${servers.map((s) => s.name).join(', ')}) runs ${PLUGIN_SERVER_BIN}`,
        FIX_SERVER('/usr/local/kong/js-plugins'),
      ),
    }
  }
  let firstProblem: DoctorCheck | undefined
  for (const s of ours) {
    const key = `pluginserver_${s.name.replace(/-/g, '_')}`
    const query = parseServerCommand(s.query)
    const dir = s.command.pluginsDir ?? query.pluginsDir
    const problem = await (async (): Promise<DoctorCheck | undefined> => {
      if (!s.start) {
        return fail(
          name,
          `${key}_start_cmd is not set: Kong expects the plugin server "${s.name}" to be started by someone else`,
          `${key}_start_cmd = ${query.executable ?? PLUGIN_SERVER_BIN} --plugins-directory ${dir ?? '/usr/local/kong/js-plugins'}`,
        )
      }
      if (!s.query) {
        return fail(
          name,
          `${key}_query_cmd is not set: Kong cannot learn the plugin's schema and refuses to start`,
          `${key}_query_cmd = ${s.command.executable ?? PLUGIN_SERVER_BIN} --plugins-directory ${dir ?? '/usr/local/kong/js-plugins'} --dump-all-plugins`,
        )
      }
      for (const [what, cmd] of [
        ['start', s.command],
        ['query', query],
      ] as const) {
        if (!cmd.executable) {
          return fail(
            name,
            `${key}_${what}_cmd does not run ${PLUGIN_SERVER_BIN}`,
            FIX_SERVER(dir ?? '/usr/local/kong/js-plugins'),
          )
        }
        if (!(await isExecutable(cmd.executable))) {
          return fail(
            name,
            `${key}_${what}_cmd names ${cmd.executable}, which does not exist or is not executable`,
            `npm install -g kong-pdk@0.6.0, then: ${FIX_SERVER(dir ?? '/usr/local/kong/js-plugins')}`,
          )
        }
      }
      if (!s.command.pluginsDir || !query.pluginsDir) {
        return fail(
          name,
          `${key}_start_cmd and ${key}_query_cmd must both give --plugins-directory`,
          FIX_SERVER(dir ?? '/usr/local/kong/js-plugins'),
        )
      }
      if (s.command.pluginsDir !== query.pluginsDir) {
        return fail(
          name,
          `${key}_start_cmd loads plugins from ${s.command.pluginsDir} but ${key}_query_cmd from ${query.pluginsDir}`,
          FIX_SERVER(s.command.pluginsDir),
        )
      }
      const file = join(s.command.pluginsDir, `${NAME}.js`)
      if (!(await fileExists(file))) {
        return fail(
          name,
          `${s.command.pluginsDir} (the plugin server's --plugins-directory) has no ${NAME}.js`,
          `kong-upstream-jwt kong install --plugins-dir ${s.command.pluginsDir}`,
        )
      }
      return undefined
    })()
    if (!problem) {
      return {
        check: pass(
          name,
          `plugin server "${s.name}" runs ${s.command.executable} with ${join(s.command.pluginsDir!, `${NAME}.js`)}`,
        ),
        server: s,
      }
    }
    firstProblem ??= problem
  }
  return { check: firstProblem! }
}

function sh(command: string, env: DoctorInput['env']): Promise<{ stdout: string; error?: string }> {
  return new Promise((resolve) => {
    // Kong runs the query command with io.popen, i.e. through /bin/sh.
    execFile(
      '/bin/sh',
      ['-c', command],
      { env: env as NodeJS.ProcessEnv, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({
          stdout: String(stdout),
          error: err ? `${err.message.split('\n')[0]} ${String(stderr).trim()}`.trim() : undefined,
        }),
    )
  })
}

async function checkPluginInfo(server: Server, env: DoctorInput['env']): Promise<DoctorCheck> {
  const name = 'plugin-info'
  const key = `pluginserver_${server.name.replace(/-/g, '_')}_query_cmd`
  const fix = `kong-upstream-jwt kong install --plugins-dir ${server.command.pluginsDir}`
  const { stdout, error } = await sh(server.query, env)
  if (error) return fail(name, `${key} failed: ${error}`, fix)
  let infos: unknown
  try {
    infos = JSON.parse(stdout)
  } catch {
    return fail(
      name,
      `${key} did not print JSON (Kong refuses to start): ${stdout.slice(0, 120)}`,
      fix,
    )
  }
  const list = Array.isArray(infos) ? infos : ((infos as { Plugins?: unknown })?.Plugins ?? [])
  const info = (list as Record<string, unknown>[]).find((p) => p?.Name === NAME)
  if (!info) return fail(name, `${key} does not list ${NAME}`, fix)
  const phases = Array.isArray(info.Phases) ? info.Phases : []
  if (info.Priority !== PRIORITY || !phases.includes('access')) {
    return fail(
      name,
      `${key} lists ${NAME} with priority ${info.Priority} and phases ${phases.join(',')}; expected ${PRIORITY} and access`,
      fix,
    )
  }
  return pass(name, `${key} lists ${NAME} ${info.Version}, priority ${PRIORITY}, phase access`)
}

/** The lowest Node the plugin file runs on. */
const MIN_NODE = [18, 19, 0] as const

/** Where `/usr/bin/env node` looks when nginx gave its workers no PATH (glibc's default). */
const WORKER_DEFAULT_PATH = '/bin:/usr/bin'

async function nodeVersion(node: string, env: DoctorInput['env']): Promise<string | undefined> {
  const { stdout, error } = await sh(`'${node.replace(/'/g, "'\\''")}' --version`, env)
  return error ? undefined : stdout.trim()
}

/**
 * The Node that runs the plugin server when worker 0 starts it. nginx clears its workers'
 * environment (only `env` directives pass variables), so a `#!/usr/bin/env node` script finds
 * node only in /bin or /usr/bin unless PATH is passed on.
 */
async function checkServerNode(
  server: Server,
  conf: KongConf,
  env: DoctorInput['env'],
): Promise<DoctorCheck> {
  const name = 'pluginserver-node'
  const key = `pluginserver_${server.name.replace(/-/g, '_')}_start_cmd`
  const fix = `${key} = /path/to/node ${server.start.trim()}   # or install nodejs where /usr/bin/env finds it: /usr/bin/node`
  let node = server.command.interpreter
  let how = `named in ${key}`
  if (!node) {
    const first =
      (await readFile(server.command.executable!, 'utf8').catch(() => '')).split('\n', 1)[0] ?? ''
    const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(first)
    if (!shebang)
      return fail(
        name,
        `${server.command.executable} does not start with #!: Kong cannot run it`,
        fix,
      )
    if (basename(shebang[1]!) === 'env' && shebang[2]) {
      const passed = new Set(nginxEnvNames(conf.get('nginx_main_env')))
      const path = passed.has('PATH') ? (env.PATH ?? '') : WORKER_DEFAULT_PATH
      for (const dir of path.split(':').filter(Boolean)) {
        if (await isExecutable(join(dir, shebang[2]))) {
          node = join(dir, shebang[2])
          break
        }
      }
      how = `found by ${first.slice(2).trim()} in ${path}${passed.has('PATH') ? ' (PATH passed by nginx_main_env)' : ' (nginx gives its workers no PATH)'}`
      if (!node)
        return fail(
          name,
          `the plugin server's ${first.trim()} finds no ${shebang[2]} in ${path}: nginx gives its workers no PATH`,
          fix,
        )
    } else {
      node = shebang[1]!
      how = `named by ${server.command.executable}'s #!`
    }
  }
  const version = await nodeVersion(node, env)
  if (!version) return fail(name, `${node} (${how}) cannot be run`, fix)
  const parts = version.replace(/^v/, '').split('.').map(Number)
  let older = false
  for (let i = 0; i < 3; i++) {
    if ((parts[i] ?? 0) !== MIN_NODE[i]) {
      older = (parts[i] ?? 0) < MIN_NODE[i]!
      break
    }
  }
  if (older)
    return fail(
      name,
      `the plugin server would run on ${node} ${version} (${how}); the plugin needs Node >= ${MIN_NODE.join('.')}`,
      fix,
    )
  return pass(name, `the plugin server runs on ${node} ${version} (${how})`)
}

async function checkSocket(
  server: Server,
  user: UnixUser | undefined,
  userName: string,
): Promise<DoctorCheck> {
  const name = 'socket'
  const key = `pluginserver_${server.name.replace(/-/g, '_')}_socket`
  const listens = join(server.command.kongPrefix, server.command.sockName)
  if (listens !== server.socket) {
    return fail(
      name,
      `Kong connects to ${server.socket} (${key}) but the plugin server listens on ${listens}`,
      `${key} = ${listens}`,
    )
  }
  const dir = dirname(server.socket)
  if (!(await fileExists(dir))) {
    return fail(
      name,
      `the socket's folder ${dir} does not exist`,
      `mkdir -p ${dir} && chown ${userName} ${dir}`,
    )
  }
  if (!user)
    return fail(name, `user ${userName} does not exist here`, `--user <the user in nginx_user>`)
  const why = await cannotWriteIn(user, dir)
  if (why)
    return fail(
      name,
      `the plugin server cannot create ${server.socket}: ${why}`,
      `chown ${userName} ${dir}`,
    )
  return pass(name, `${userName} can create ${server.socket}`)
}

async function checkKeys(
  where: string,
  config: Record<string, unknown>,
  env: DoctorInput['env'],
  user: UnixUser | undefined,
  userName: string,
): Promise<DoctorCheck> {
  const name = where === 'environment' ? 'keys' : `keys ${where}`
  let options: ReturnType<typeof resolveOptions>
  try {
    options = resolveOptions(config, { env, ignore: (k) => k.startsWith('__') })
  } catch (err) {
    return fail(name, (err as Error).message, `correct the plugin's config at ${where}`)
  }
  const files = [options.private_key_location, options.public_key_location].filter(
    (f): f is string => typeof f === 'string',
  )
  for (const file of files) {
    if (!(await fileExists(file))) {
      return fail(
        name,
        `${file} does not exist`,
        `kong-upstream-jwt keygen --out ${dirname(file)}   # or mount the key and certificate there`,
      )
    }
    if (!user)
      return fail(name, `user ${userName} does not exist here`, `--user <the user in nginx_user>`)
    const why = await cannotRead(user, file)
    if (why)
      return fail(
        name,
        `the plugin server cannot read ${file}: ${why}`,
        `chown ${userName} ${file} && chmod 600 ${file}`,
      )
  }
  try {
    const material = await loadKeyMaterial(options)
    const leaf = material.certificates[0]
    const until = leaf ? `; certificate valid until ${new Date(leaf.validTo).toISOString()}` : ''
    const warn = material.warnings.length ? ` (${material.warnings.join('; ')})` : ''
    return pass(
      name,
      `${files.join(' and ')} parse and match (${options.algorithm})${until}${warn}`,
    )
  } catch (err) {
    return fail(
      name,
      (err as Error).message,
      'kong-upstream-jwt keygen --out <dir>   # a matching key and certificate',
    )
  }
}

function checkSslCertKey(conf: KongConf, env: DoctorInput['env']): DoctorCheck {
  const name = 'ssl-cert-key'
  if (env.KONG_SSL_CERT_KEY === undefined) return pass(name, 'KONG_SSL_CERT_KEY is not set')
  if (!listensWithSsl(conf.get('proxy_listen')) && !listensWithSsl(conf.get('stream_listen'))) {
    return pass(
      name,
      'KONG_SSL_CERT_KEY is set and no listener uses ssl, so Kong ignores it as ssl_cert_key',
    )
  }
  const effect = conf.get('ssl_cert')
    ? 'serves TLS with the signing key'
    : 'refuses to start ("ssl_cert must be specified")'
  return fail(
    name,
    `KONG_SSL_CERT_KEY is also Kong's own ssl_cert_key: with ssl in proxy_listen Kong ${effect}`,
    'unset KONG_SSL_CERT_KEY/KONG_SSL_CERT_DER and set private_key_location/public_key_location in the plugin config',
  )
}

async function checkNginxEnv(
  conf: KongConf,
  env: DoctorInput['env'],
  template: string | undefined,
): Promise<DoctorCheck> {
  const name = 'nginx-env'
  const used = KEY_VARIABLES.filter((v) => env[v] !== undefined)
  if (used.length === 0)
    return pass(name, 'no key variables are set; the plugin config names the files')
  const passed = new Set(nginxEnvNames(conf.get('nginx_main_env')))
  if (template) {
    const text = await readFile(template, 'utf8')
    for (const m of text.matchAll(/^\s*env\s+([A-Za-z_][A-Za-z0-9_]*)/gm)) passed.add(m[1]!)
  }
  const missing = used.filter((v) => !passed.has(v))
  if (missing.length > 0) {
    return fail(
      name,
      `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} set but nginx does not pass ${missing.length > 1 ? 'them' : 'it'} to its workers, so the plugin server never sees ${missing.length > 1 ? 'them' : 'it'} (the original's "no JWT header" cause)`,
      `KONG_NGINX_MAIN_ENV="${used.join('; env ')}"   # or nginx_main_env = ${used.join('; env ')} in kong.conf`,
    )
  }
  return pass(name, `nginx passes ${used.join(', ')} to its workers`)
}

function formatSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}m`
  if (bytes % 1024 === 0) return `${bytes / 1024}k`
  return String(bytes)
}

function checkBodyBuffer(conf: KongConf, version: [number, number], maxBody: number): DoctorCheck {
  const name = 'body-buffer'
  const raw = conf.get('nginx_http_client_body_buffer_size')
  const buffer = nginxSize(raw)
  if (buffer === undefined) {
    return fail(
      name,
      `nginx_http_client_body_buffer_size "${raw}" is not an nginx size`,
      'nginx_http_client_body_buffer_size = 1m',
    )
  }
  const v = version.join('.')
  const readsFiles = version[0] > 3 || (version[0] === 3 && version[1] >= 8)
  if (buffer >= maxBody) {
    return pass(
      name,
      `nginx keeps bodies up to ${raw} in memory, at least max_body_size (${maxBody} bytes)`,
    )
  }
  if (readsFiles) {
    return pass(
      name,
      `bodies above ${raw} go to a temporary file; Kong ${v} reads them back for the hash, up to max_body_size (${maxBody} bytes)`,
    )
  }
  return fail(
    name,
    `Kong ${v} cannot read bodies nginx buffered to disk: requests with bodies between ${raw} and max_body_size (${maxBody} bytes) end with 500`,
    `nginx_http_client_body_buffer_size = ${formatSize(maxBody)}   # or upgrade to Kong >= 3.8, or lower max_body_size`,
  )
}

/** Parses `3.9`, `3.9.1` into [major, minor]; undefined when not a version. */
export function parseKongVersion(value: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)(\.\d+)?$/.exec(value.trim())
  return m ? [Number(m[1]), Number(m[2])] : undefined
}

/**
 * Runs every check and returns the report; never throws for a broken setup (that is a failed
 * check). The version must already be valid (see {@link parseKongVersion}).
 *
 * @example
 * ```ts
 * const report = await runDoctor({ user: 'kong', kongVersion: '3.9', env: process.env })
 * for (const c of report.checks) console.log(c.ok ? 'ok  ' : 'FAIL', c.name, c.message)
 * ```
 */
export async function runDoctor(input: DoctorInput): Promise<DoctorReport> {
  const checks: DoctorCheck[] = []
  const version = parseKongVersion(input.kongVersion) ?? [3, 9]
  let conf: KongConf
  if (input.conf !== undefined && !(await fileExists(input.conf))) {
    checks.push(
      fail('kong.conf', `${input.conf} does not exist`, '--conf <the file given to kong start -c>'),
    )
    conf = await loadKongConf(undefined, input.env)
  } else {
    conf = await loadKongConf(input.conf, input.env)
    checks.push(
      pass(
        'kong.conf',
        conf.file
          ? `read ${conf.file}; KONG_* variables win over it`
          : `no ${DEFAULT_CONF_PATHS.join(' or ')}: Kong's defaults and KONG_* variables`,
      ),
    )
  }

  const plugins = conf.list('plugins')
  checks.push(
    plugins.includes(NAME)
      ? pass('plugins', `plugins (${conf.source('plugins')}) includes ${NAME}`)
      : fail(
          'plugins',
          `${NAME} is not in plugins = ${plugins.join(',') || '(empty)'} (${conf.source('plugins')}): Kong never runs it`,
          `plugins = bundled,${NAME}   # KONG_PLUGINS=bundled,${NAME}`,
        ),
  )

  const user = await lookupUser(input.user)
  const { check, server } = await checkPluginServer(conf, await pluginServers(conf))
  checks.push(check)
  if (server) {
    checks.push(await checkPluginInfo(server, input.env))
    checks.push(await checkSocket(server, user, input.user))
    checks.push(await checkServerNode(server, conf, input.env))
  }

  let entries: PluginEntryRef[] = []
  const database = conf.get('database')
  if (database === 'off') {
    const file = conf.get('declarative_config')
    if (!file) {
      checks.push(
        fail(
          'declarative-config',
          'database = off but declarative_config is not set: Kong starts with no services and no plugin entries',
          'declarative_config = /etc/kong/kong.yml   # KONG_DECLARATIVE_CONFIG',
        ),
      )
    } else {
      try {
        entries = (await pluginEntries(file)).filter((e) => e.enabled)
        checks.push(
          entries.length > 0
            ? pass(
                'declarative-config',
                `${file} has ${entries.length} enabled ${NAME} entr${entries.length > 1 ? 'ies' : 'y'}`,
              )
            : fail(
                'declarative-config',
                `${file} has no enabled ${NAME} entry: the plugin is loaded but runs on no request`,
                `add to ${file}: plugins: [{ name: ${NAME}, config: { private_key_location: ..., public_key_location: ... } }]`,
              ),
        )
      } catch (err) {
        checks.push(
          fail(
            'declarative-config',
            `${file} (${conf.source('declarative_config')}) cannot be read: ${(err as Error).message.split('\n')[0]}`,
            `kong config parse ${file}`,
          ),
        )
      }
    }
  } else {
    checks.push(
      pass(
        'declarative-config',
        `database = ${database}: plugin entries live in the database and are not checked here`,
      ),
    )
  }

  checks.push(checkSslCertKey(conf, input.env))
  checks.push(await checkNginxEnv(conf, input.env, input.nginxTemplate))

  const envKeys = input.env.KONG_SSL_CERT_KEY !== undefined
  if (entries.length > 0) {
    for (const e of entries)
      checks.push(await checkKeys(e.where, e.config, input.env, user, input.user))
  } else if (envKeys) {
    checks.push(await checkKeys('environment', {}, input.env, user, input.user))
  } else if (database === 'off') {
    checks.push(
      fail(
        'keys',
        'no key is configured',
        'set private_key_location and public_key_location in the plugin config',
      ),
    )
  }

  let maxBody = OPTIONS.max_body_size.default
  if (entries.length > 0) {
    maxBody = Math.max(
      ...entries.map((e) =>
        typeof e.config.max_body_size === 'number'
          ? e.config.max_body_size
          : OPTIONS.max_body_size.default,
      ),
    )
  }
  checks.push(checkBodyBuffer(conf, version, maxBody))
  return { ok: checks.every((c) => c.ok), checks }
}
