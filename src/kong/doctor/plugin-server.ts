/**
 * Checks of the plugin server as Kong runs it: `pluginserver_<name>_*` (conf_loader's defaults),
 * the query command's answer, the socket, and the Node that worker 0 starts it with.
 * @module
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { parse } from 'shell-quote'
import { fileExists } from '../../core/file-exists.js'
import { NAME, PRIORITY } from '../plugin.js'
import { isExecutable, PLUGIN_SERVER_BIN } from '../pluginserver.js'
import { cannotWriteIn, type UnixUser } from './access.js'
import { type KongConf, nginxEnvNames } from './kong-conf.js'
import { type DoctorCheck, fail, type KongEnv, pass } from './report.js'

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

// A shell variable assignment before the command (`NODE_OPTIONS=... node ...`).
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/

/**
 * The words of the first simple command in `command`, as /bin/sh splits them: quotes and
 * backslashes taken out, up to the first operator (`;`, `&&`, a redirection) or comment.
 * `$NAME` stays as written: the shell that runs it is nginx worker 0's, whose environment is
 * not this process's.
 */
function shellWords(command: string): string[] {
  const words: string[] = []
  for (const entry of parse(command, (name) => `$${name}`)) {
    if (typeof entry === 'string') words.push(entry)
    else if ('op' in entry && entry.op === 'glob') words.push(entry.pattern)
    else break
  }
  return words
}

/**
 * Reads a start or query command. Kong hands both to a shell (`ngx.pipe.spawn` of the start
 * command, `io.popen` of the query), so they are split as a shell splits them.
 */
export function parseServerCommand(command: string): ServerCommand {
  const words = shellWords(command)
  const at = words.findIndex((w) => basename(w) === PLUGIN_SERVER_BIN)
  const first = words.findIndex((w) => !ASSIGNMENT.test(w))
  return {
    executable: at >= 0 ? words[at] : undefined,
    interpreter: at > first && first >= 0 ? words[first] : undefined,
    pluginsDir: optionValue(words, ['--plugins-directory', '-plugins-directory', '-d']),
    kongPrefix: optionValue(words, ['--kong-prefix', '-kong-prefix', '-p']) ?? '/usr/local/kong',
    sockName: optionValue(words, ['--sock-name']) ?? 'js_pluginserver.sock',
  }
}

export interface Server {
  readonly name: string
  readonly start: string
  readonly query: string
  readonly socket: string
  readonly command: ServerCommand
}

/** Kong's pluginserver_<name>_* settings, with Kong's defaults (conf_loader). */
export async function pluginServers(conf: KongConf): Promise<Server[]> {
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

export async function checkPluginServer(
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

function sh(command: string, env: KongEnv): Promise<{ stdout: string; error?: string }> {
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

export async function checkPluginInfo(server: Server, env: KongEnv): Promise<DoctorCheck> {
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

async function nodeVersion(node: string, env: KongEnv): Promise<string | undefined> {
  const { stdout, error } = await sh(`'${node.replace(/'/g, "'\\''")}' --version`, env)
  return error ? undefined : stdout.trim()
}

/**
 * The Node that runs the plugin server when worker 0 starts it. nginx clears its workers'
 * environment (only `env` directives pass variables), so a `#!/usr/bin/env node` script finds
 * node only in /bin or /usr/bin unless PATH is passed on.
 */
export async function checkServerNode(
  server: Server,
  conf: KongConf,
  env: KongEnv,
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

export async function checkSocket(
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
