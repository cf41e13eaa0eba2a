/**
 * `kong doctor`: checks a Kong node's setup for this plugin as Kong would read it, and says
 * for each failure the line that fixes it. The checks answer the original plugin's most common
 * complaint, "no JWT header appears", which is nearly always a setup mistake.
 * @module
 */
import { fileExists } from '../../core/file-exists.js'
import { OPTIONS } from '../../options/table.js'
import { NAME } from '../plugin.js'
import { lookupUser } from './access.js'
import { checkBodyBuffer, parseKongVersion } from './body-buffer.js'
import { type PluginEntryRef, pluginEntries } from './declarative.js'
import { checkKeys, checkNginxEnv, checkSslCertKey } from './keys.js'
import { DEFAULT_CONF_PATHS, type KongConf, loadKongConf } from './kong-conf.js'
import {
  checkPluginInfo,
  checkPluginServer,
  checkServerNode,
  checkSocket,
  pluginServers,
} from './plugin-server.js'
import { type DoctorCheck, type DoctorReport, fail, type KongEnv, pass } from './report.js'

export { parseKongVersion } from './body-buffer.js'
export { parseServerCommand } from './plugin-server.js'
export type { DoctorCheck, DoctorReport } from './report.js'

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
  readonly env: KongEnv
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
