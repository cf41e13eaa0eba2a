/**
 * Checks of the signing keys as the plugin server will load them, and of the key variables:
 * passed to nginx's workers, and not taken by Kong as its own `ssl_cert_key`.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileExists } from '../../core/file-exists.js'
import { resolveOptions } from '../../options/resolve.js'
import { OPTIONS, type OptionSpec } from '../../options/table.js'
import { loadKeyMaterial } from '../../signer/keys.js'
import { cannotRead, type UnixUser } from './access.js'
import { type KongConf, listensWithSsl, nginxEnvNames } from './kong-conf.js'
import { type DoctorCheck, fail, type KongEnv, pass } from './report.js'

/** The variables the plugin reads (options with an `env` override). */
const KEY_VARIABLES = (Object.values(OPTIONS) as OptionSpec[]).flatMap((spec) =>
  spec.env ? [spec.env] : [],
)

export async function checkKeys(
  where: string,
  config: Record<string, unknown>,
  env: KongEnv,
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

export function checkSslCertKey(conf: KongConf, env: KongEnv): DoctorCheck {
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

export async function checkNginxEnv(
  conf: KongConf,
  env: KongEnv,
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
