import { mkdir, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UpstreamJwtError } from '../../core/errors.js'
import { fileExists } from '../../core/file-exists.js'
import type { CliIo } from '../io.js'

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

/** The kong.conf lines and env lines that make Kong run the plugin. */
export function kongConfText(pluginsDir: string): string {
  const dir = resolve(pluginsDir)
  return `# kong.conf
plugins = bundled,kong-upstream-jwt
pluginserver_names = js
pluginserver_js_socket = /usr/local/kong/js_pluginserver.sock
pluginserver_js_start_cmd = /usr/local/bin/kong-js-pluginserver --plugins-directory ${dir}
pluginserver_js_query_cmd = /usr/local/bin/kong-js-pluginserver --plugins-directory ${dir} --dump-all-plugins
# Bodies larger than this are buffered to disk by nginx; Kong >= 3.8 reads them back for the
# hash (the plugin passes max_body_size), older Kong cannot: the plugin then answers 500.
nginx_http_client_body_buffer_size = 1m

# nginx.conf (custom template), or KONG_NGINX_MAIN_ENV: keep the key locations visible
env KONG_SSL_CERT_KEY;
env KONG_SSL_CERT_DER;
`
}

/** `kong install --plugins-dir DIR`: writes the one file the plugin server loads. */
export async function kongInstallCommand(pluginsDir: string, io: CliIo): Promise<number> {
  const bundle = await pluginBundle()
  const dir = resolve(pluginsDir)
  await mkdir(dir, { recursive: true })
  const file = resolve(dir, 'kong-upstream-jwt.js')
  // The package stays where it is installed (checkout, global or local): nothing is copied.
  await writeFile(
    file,
    `'use strict'\n// Written by \`kong-upstream-jwt kong install\`.\nmodule.exports = require(${JSON.stringify(bundle)})\n`,
  )
  io.stdout.write(`wrote ${file}\n\nNow add to Kong's configuration:\n\n${kongConfText(dir)}`)
  return 0
}
