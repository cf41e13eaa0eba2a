/**
 * Finding `kong-js-pluginserver` (npm `kong-pdk`) the way an operator's shell would: on
 * `PATH`, else in npm's global prefix, so the printed start command names a file that exists.
 * @module
 */
import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { delimiter, join } from 'node:path'

/** The plugin server's executable name. */
export const PLUGIN_SERVER_BIN = 'kong-js-pluginserver'

/** Where the plugin server was found, or the places searched when it was not. */
export type PluginServerLocation =
  | { readonly found: true; readonly path: string }
  | { readonly found: false; readonly searched: readonly string[] }

/** Whether `path` is a file this process may execute. */
export function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  )
}

function npmGlobalBin(
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      'npm',
      ['prefix', '-g'],
      { env: env as NodeJS.ProcessEnv, timeout: 15_000 },
      (err, stdout) => {
        const prefix = String(stdout ?? '').trim()
        // npm puts global executables in <prefix>/bin on POSIX systems.
        resolve(err || prefix === '' ? undefined : join(prefix, 'bin'))
      },
    )
  })
}

/**
 * Looks for `kong-js-pluginserver` on `PATH`, then in npm's global prefix.
 *
 * @example
 * ```ts
 * const where = await locatePluginServer(process.env)
 * if (where.found) console.log(where.path)
 * ```
 */
export async function locatePluginServer(
  env: Readonly<Record<string, string | undefined>>,
): Promise<PluginServerLocation> {
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '')
  const searched: string[] = []
  for (const dir of dirs) {
    const candidate = join(dir, PLUGIN_SERVER_BIN)
    searched.push(candidate)
    if (await isExecutable(candidate)) return { found: true, path: candidate }
  }
  const globalBin = await npmGlobalBin(env)
  if (globalBin !== undefined) {
    const candidate = join(globalBin, PLUGIN_SERVER_BIN)
    if (!searched.includes(candidate)) {
      searched.push(candidate)
      if (await isExecutable(candidate)) return { found: true, path: candidate }
    }
  }
  return { found: false, searched }
}
