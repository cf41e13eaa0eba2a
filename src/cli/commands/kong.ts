import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UpstreamJwtError } from '../../core/errors.js'
import { fileExists } from '../../core/file-exists.js'
import { runDoctor } from '../../kong/doctor/doctor.js'
import { isExecutable, locatePluginServer, PLUGIN_SERVER_BIN } from '../../kong/pluginserver.js'
import type { CliIo } from '../io.js'
import type { KongDoctorInput } from '../parse.js'

/** This package's folder: two levels up from both src/cli/commands and dist/cli/commands. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BUNDLE = resolve(ROOT, 'dist/kong/plugin.cjs')

/** The bundle Kong's plugin server requires; built on the spot in a checkout that has none. */
export async function pluginBundle(): Promise<string> {
  if (await fileExists(BUNDLE)) return BUNDLE
  const script = resolve(ROOT, 'scripts/build-kong.mjs')
  if (!(await fileExists(script))) {
    throw new UpstreamJwtError(
      'ERR_BUNDLE_MISSING',
      `${BUNDLE} is missing; reinstall kong-upstream-jwt`,
    )
  }
  const { buildKongPlugin } = (await import(script)) as { buildKongPlugin: () => Promise<string> }
  return buildKongPlugin()
}

/** The kong-js-pluginserver to name: `--pluginserver`, else the one on PATH or in npm -g. */
async function pluginServerPath(given: string | undefined, io: CliIo): Promise<string> {
  if (given !== undefined) {
    const path = resolve(given)
    if (!(await isExecutable(path))) {
      throw new UpstreamJwtError(
        'ERR_PLUGINSERVER_NOT_FOUND',
        `--pluginserver ${path}: no executable file there`,
      )
    }
    return path
  }
  const where = await locatePluginServer(io.env)
  if (where.found) return where.path
  // Where `npm install -g` puts it with Debian's and Ubuntu's npm (prefix /usr/local).
  const fallback = `/usr/local/bin/${PLUGIN_SERVER_BIN}`
  io.stderr.write(
    `kong-upstream-jwt: ${PLUGIN_SERVER_BIN} is not installed (not on PATH, not in npm's global prefix); install it with: npm install -g kong-pdk@0.6.0 (or give --pluginserver PATH). The lines below name ${fallback}.\n`,
  )
  return fallback
}

/** The kong.conf lines that make Kong run the plugin from `pluginsDir` with `pluginServer`. */
export function kongConfText(pluginsDir: string, pluginServer: string): string {
  const dir = resolve(pluginsDir)
  return `# kong.conf (each line may instead be a KONG_<NAME> environment variable)
plugins = bundled,kong-upstream-jwt
pluginserver_names = js
pluginserver_js_socket = /usr/local/kong/js_pluginserver.sock
pluginserver_js_start_cmd = ${pluginServer} --plugins-directory ${dir} --kong-prefix /usr/local/kong
pluginserver_js_query_cmd = ${pluginServer} --plugins-directory ${dir} --dump-all-plugins
# Bodies above this go to a file; Kong >= 3.8 reads them back for the hash (up to the
# plugin's max_body_size), older Kong cannot and the plugin then answers 500.
nginx_http_client_body_buffer_size = 1m
# Keys: name the files in the plugin's config (private_key_location, public_key_location).
# If you use KONG_SSL_CERT_KEY/KONG_SSL_CERT_DER instead, nginx must pass them on:
#   nginx_main_env = KONG_SSL_CERT_KEY; env KONG_SSL_CERT_DER
# and KONG_SSL_CERT_KEY is also Kong's own ssl_cert_key (see kong-upstream-jwt kong doctor).
`
}

/** `kong config`: prints the settings. */
export async function kongConfigCommand(
  pluginsDir: string,
  pluginServer: string | undefined,
  io: CliIo,
): Promise<number> {
  io.stdout.write(kongConfText(pluginsDir, await pluginServerPath(pluginServer, io)))
  return 0
}

/**
 * `kong install --plugins-dir DIR`: writes DIR/kong-upstream-jwt.js, the bundle itself (it
 * requires only Node's built-ins, so an image can copy that one file), or with `link` a
 * one-line require of this installed package.
 */
export async function kongInstallCommand(
  pluginsDir: string,
  link: boolean,
  pluginServer: string | undefined,
  io: CliIo,
): Promise<number> {
  const bundle = await pluginBundle()
  const server = await pluginServerPath(pluginServer, io)
  const dir = resolve(pluginsDir)
  await mkdir(dir, { recursive: true })
  const file = resolve(dir, 'kong-upstream-jwt.js')
  if (link) {
    const version = (await readFile(bundle, 'utf8')).split('\n', 1)[0]
    await writeFile(
      file,
      `'use strict'\n// Written by \`kong-upstream-jwt kong install --link\`; loads ${version?.replace(/^\/\/ /, '')}\nmodule.exports = require(${JSON.stringify(bundle)})\n`,
    )
  } else {
    await copyFile(bundle, file)
  }
  io.stdout.write(
    `wrote ${file}\n\nNow add to Kong's configuration:\n\n${kongConfText(dir, server)}`,
  )
  return 0
}

/** `kong doctor`: one line per check; exit 0 when all pass, 1 when any fails. */
export async function kongDoctorCommand(
  input: KongDoctorInput,
  json: boolean,
  io: CliIo,
): Promise<number> {
  const report = await runDoctor({ ...input, env: io.env })
  if (json) {
    io.stdout.write(`${JSON.stringify(report)}\n`)
  } else {
    for (const c of report.checks) {
      io.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.message}\n`)
      if (c.fix) io.stdout.write(`     fix: ${c.fix}\n`)
    }
    io.stdout.write(
      report.ok ? 'all checks passed\n' : `${report.checks.filter((c) => !c.ok).length} failed\n`,
    )
  }
  return report.ok ? 0 : 1
}
