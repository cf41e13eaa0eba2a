import assert from 'node:assert/strict'
import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { buildKongPlugin } from '../../scripts/build-kong.mjs'
import { writeKeys } from '../../testing/keys.js'
import { PLUGIN_SERVER } from '../../testing/kong.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { cli } from '../helpers/cli.js'

interface Check {
  name: string
  ok: boolean
  message: string
  fix: string | null
}

/** A Kong node laid out in a temporary folder, readable by `nobody` (standing in for kong). */
interface Node {
  dir: string
  conf: Record<string, string>
  yml: string
  env: Record<string, string>
}

describe('kong doctor', () => {
  let root: string
  let bundle: string
  let n = 0

  before(async () => {
    root = await makeTempDir()
    await chmod(root, 0o755)
    bundle = await buildKongPlugin(join(root, 'bundle', 'plugin.cjs'))
  })
  after(() => removeDir(root))

  /** A good setup; each test breaks one thing of it. */
  async function node(): Promise<Node> {
    const dir = join(root, `node-${++n}`)
    for (const d of ['plugins', 'prefix', 'jwt']) await mkdir(join(dir, d), { recursive: true })
    await chmod(dir, 0o755)
    await chmod(join(dir, 'prefix'), 0o777)
    await copyFile(bundle, join(dir, 'plugins', 'kong-upstream-jwt.js'))
    const keys = await writeKeys(join(dir, 'jwt'), 'ES256', { name: 'signing' })
    await chmod(keys.key, 0o644)
    const yml = `_format_version: "3.0"
services:
  - name: orders
    url: http://127.0.0.1:9000
    routes: [{ name: orders, paths: [/orders] }]
    plugins:
      - name: kong-upstream-jwt
        config:
          private_key_location: ${keys.key}
          public_key_location: ${keys.certDer}
          algorithm: ES256
`
    await writeFile(join(dir, 'kong.yml'), yml)
    const conf = {
      plugins: 'bundled,kong-upstream-jwt',
      pluginserver_names: 'js',
      pluginserver_js_socket: `${dir}/prefix/js_pluginserver.sock`,
      pluginserver_js_start_cmd: `${process.execPath} ${PLUGIN_SERVER} --plugins-directory ${dir}/plugins --kong-prefix ${dir}/prefix`,
      pluginserver_js_query_cmd: `${PLUGIN_SERVER} --plugins-directory ${dir}/plugins --dump-all-plugins`,
      database: 'off',
      declarative_config: `${dir}/kong.yml`,
      nginx_http_client_body_buffer_size: '1m',
    }
    return { dir, conf, yml, env: { PATH: process.env.PATH ?? '' } }
  }

  async function doctor(
    setup: Node,
    extra: string[] = [],
  ): Promise<{ code: number; checks: Check[]; stdout: string }> {
    const text = Object.entries(setup.conf)
      .map(([k, v]) => `${k} = ${v}   # comment`)
      .join('\n')
    await writeFile(join(setup.dir, 'kong.conf'), `# Kong\n${text}\n`)
    const args = ['kong', 'doctor', '--conf', join(setup.dir, 'kong.conf'), '--user', 'nobody']
    const r = await cli([...args, ...extra, '--json'], { env: setup.env })
    const plain = await cli([...args, ...extra], { env: setup.env })
    assert.equal(plain.code, r.code)
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] }
    assert.equal(report.ok, r.code === 0)
    return { code: r.code, checks: report.checks, stdout: plain.stdout }
  }

  /** Asserts that exactly the check `name` fails, with `message` and `fix`. */
  async function failsWith(
    setup: Node,
    name: string,
    message: RegExp,
    fix: RegExp,
    extra: string[] = [],
  ) {
    const { code, checks, stdout } = await doctor(setup, extra)
    assert.equal(code, 1, stdout)
    const failed = checks.filter((c) => !c.ok)
    assert.deepEqual(
      failed.map((c) => c.name),
      [name],
      stdout,
    )
    assert.match(failed[0]!.message, message)
    assert.match(failed[0]!.fix ?? '', fix)
    assert.match(stdout, new RegExp(`^FAIL ${name.replace(/[[\]().]/g, '\\$&')}: `, 'm'))
    assert.match(stdout, /^ {5}fix: /m)
  }

  test('a good setup: every check passes, exit 0, one line per check', async () => {
    const setup = await node()
    const { code, checks, stdout } = await doctor(setup)
    assert.equal(code, 0, stdout)
    assert.deepEqual(
      checks.map((c) => c.name),
      [
        'kong.conf',
        'plugins',
        'pluginserver',
        'plugin-info',
        'socket',
        'pluginserver-node',
        'declarative-config',
        'ssl-cert-key',
        'nginx-env',
        'keys services[orders].plugins[0]',
        'body-buffer',
      ],
    )
    for (const c of checks) {
      assert.equal(c.ok, true, c.message)
      assert.equal(c.fix, null)
    }
    assert.match(
      stdout,
      /^ok {3}plugin-info: .* lists kong-upstream-jwt 0\.\d+\.\d+, priority 790, phase access$/m,
    )
    assert.match(stdout, /^ok {3}keys .*parse and match \(ES256\); certificate valid until /m)
    assert.match(stdout, /^all checks passed$/m)
  })

  test('KONG_* variables win over kong.conf', async () => {
    const setup = await node()
    setup.env.KONG_PLUGINS = 'bundled'
    await failsWith(
      setup,
      'plugins',
      /kong-upstream-jwt is not in plugins = bundled \(from KONG_PLUGINS\)/,
      /^plugins = bundled,kong-upstream-jwt/,
    )
  })

  test('fails: the --conf file does not exist', async () => {
    const setup = await node()
    const r = await cli(['kong', 'doctor', '--conf', join(setup.dir, 'nope.conf'), '--json'], {
      env: setup.env,
    })
    assert.equal(r.code, 1)
    const c = (JSON.parse(r.stdout).checks as Check[]).find((x) => x.name === 'kong.conf')
    assert.match(c?.message ?? '', /nope\.conf does not exist/)
  })

  test('fails: the plugin is not in plugins', async () => {
    const setup = await node()
    setup.conf.plugins = 'bundled'
    await failsWith(
      setup,
      'plugins',
      /is not in plugins = bundled .*Kong never runs it/,
      /plugins = bundled,kong-upstream-jwt/,
    )
  })

  test('fails: no pluginserver_names', async () => {
    const setup = await node()
    delete (setup.conf as Partial<Record<string, string>>).pluginserver_names
    const { checks } = await doctor(setup)
    const c = checks.find((x) => x.name === 'pluginserver')
    assert.equal(c?.ok, false)
    assert.match(c?.message ?? '', /pluginserver_names is not set .*Kong starts no plugin server/)
    assert.match(c?.fix ?? '', /pluginserver_names = js/)
  })

  test('fails: the start command names a kong-js-pluginserver that is not there', async () => {
    const setup = await node()
    setup.conf.pluginserver_js_start_cmd = `/opt/none/kong-js-pluginserver --plugins-directory ${setup.dir}/plugins --kong-prefix ${setup.dir}/prefix`
    await failsWith(
      setup,
      'pluginserver',
      /start_cmd names \/opt\/none\/kong-js-pluginserver, which does not exist/,
      /npm install -g kong-pdk@0\.6\.0/,
    )
  })

  test('fails: the plugins directory does not hold the plugin file', async () => {
    const setup = await node()
    const other = join(setup.dir, 'empty')
    await mkdir(other)
    setup.conf.pluginserver_js_start_cmd = `${PLUGIN_SERVER} --plugins-directory ${other} --kong-prefix ${setup.dir}/prefix`
    setup.conf.pluginserver_js_query_cmd = `${PLUGIN_SERVER} --plugins-directory ${other} --dump-all-plugins`
    await failsWith(
      setup,
      'pluginserver',
      /empty \(the plugin server's --plugins-directory\) has no kong-upstream-jwt\.js/,
      /^kong-upstream-jwt kong install --plugins-dir .*empty$/,
    )
  })

  test('fails: start and query commands load different directories', async () => {
    const setup = await node()
    setup.conf.pluginserver_js_query_cmd = `${PLUGIN_SERVER} --plugins-directory /elsewhere --dump-all-plugins`
    await failsWith(
      setup,
      'pluginserver',
      /loads plugins from .*plugins but pluginserver_js_query_cmd from \/elsewhere/,
      /kong config --plugins-dir/,
    )
  })

  test('fails: the query command lists the plugin with another priority', async () => {
    const setup = await node()
    await writeFile(
      join(setup.dir, 'plugins', 'kong-upstream-jwt.js'),
      `module.exports = { ...require(${JSON.stringify(bundle)}), Priority: 900 }\n`,
    )
    await failsWith(
      setup,
      'plugin-info',
      /lists kong-upstream-jwt with priority 900 and phases access; expected 790 and access/,
      /kong install --plugins-dir/,
    )
  })

  test('fails: Kong connects to another socket than the plugin server listens on', async () => {
    const setup = await node()
    setup.conf.pluginserver_js_socket = `${setup.dir}/prefix/js.socket`
    await failsWith(
      setup,
      'socket',
      /Kong connects to .*js\.socket \(pluginserver_js_socket\) but the plugin server listens on .*js_pluginserver\.sock/,
      /^pluginserver_js_socket = .*js_pluginserver\.sock$/,
    )
  })

  test("fails: the socket's folder does not exist", async () => {
    const setup = await node()
    setup.conf.pluginserver_js_socket = `${setup.dir}/gone/js_pluginserver.sock`
    setup.conf.pluginserver_js_start_cmd = `${PLUGIN_SERVER} --plugins-directory ${setup.dir}/plugins --kong-prefix ${setup.dir}/gone`
    await failsWith(
      setup,
      'socket',
      /the socket's folder .*gone does not exist/,
      /^mkdir -p .*gone && chown nobody/,
    )
  })

  test("fails: Kong's user cannot write the socket's folder", async () => {
    const setup = await node()
    await chmod(join(setup.dir, 'prefix'), 0o755)
    await failsWith(
      setup,
      'socket',
      /the plugin server cannot create .*: nobody cannot write in .*prefix/,
      /^chown nobody /,
    )
  })

  test('fails: the user does not exist', async () => {
    const setup = await node()
    const { checks } = await doctor(setup, ['--user', 'no-such-user-here'])
    const c = checks.find((x) => x.name === 'socket')
    assert.match(c?.message ?? '', /user no-such-user-here does not exist here/)
  })

  test("fails: the plugin server's #!/usr/bin/env finds no node where nginx's workers look", async () => {
    const setup = await node()
    const script = join(setup.dir, 'kong-js-pluginserver')
    const original = await readFile(PLUGIN_SERVER, 'utf8')
    await writeFile(script, original.replace(/^#!.*/, '#!/usr/bin/env kuj-no-such-node'), {
      mode: 0o755,
    })
    setup.conf.pluginserver_js_start_cmd = `${script} --plugins-directory ${setup.dir}/plugins --kong-prefix ${setup.dir}/prefix`
    await failsWith(
      setup,
      'pluginserver-node',
      /the plugin server's #!\/usr\/bin\/env kuj-no-such-node finds no kuj-no-such-node in \/bin:\/usr\/bin: nginx gives its workers no PATH/,
      /^pluginserver_js_start_cmd = \/path\/to\/node .*kong-js-pluginserver --plugins-directory /,
    )
    // With PATH passed to the workers, /usr/bin/env finds the node on it.
    await symlink(process.execPath, join(setup.dir, 'kuj-no-such-node'))
    setup.env.PATH = `${setup.dir}:${setup.env.PATH}`
    setup.env.KONG_NGINX_MAIN_ENV = 'PATH'
    const { code, stdout } = await doctor(setup)
    assert.equal(code, 0, stdout)
    assert.match(
      stdout,
      /^ok {3}pluginserver-node: the plugin server runs on .*kuj-no-such-node v\d+\.\d+\.\d+ \(found by \/usr\/bin\/env kuj-no-such-node in .* \(PATH passed by nginx_main_env\)\)$/m,
    )
  })

  test("fails: the plugin server's #! names a node that is not there", async () => {
    const setup = await node()
    const script = join(setup.dir, 'kong-js-pluginserver')
    await writeFile(
      script,
      (await readFile(PLUGIN_SERVER, 'utf8')).replace(/^#!.*/, '#!/opt/none/node'),
      { mode: 0o755 },
    )
    setup.conf.pluginserver_js_start_cmd = `${script} --plugins-directory ${setup.dir}/plugins --kong-prefix ${setup.dir}/prefix`
    await failsWith(
      setup,
      'pluginserver-node',
      /^\/opt\/none\/node \(named by .*kong-js-pluginserver's #!\) cannot be run$/,
      /\/path\/to\/node/,
    )
  })

  test('fails: the Node that would run the plugin server is older than 18.19.0; 18.19.0 passes', async () => {
    const setup = await node()
    const script = join(setup.dir, 'kong-js-pluginserver')
    const fake = join(setup.dir, 'old-node')
    await writeFile(script, (await readFile(PLUGIN_SERVER, 'utf8')).replace(/^#!.*/, `#!${fake}`), {
      mode: 0o755,
    })
    setup.conf.pluginserver_js_start_cmd = `${script} --plugins-directory ${setup.dir}/plugins --kong-prefix ${setup.dir}/prefix`
    // Only the version is asked of this node: a script answering as an older one will do.
    const answer = (version: string) =>
      writeFile(fake, `#!/bin/sh\necho ${version}\n`, { mode: 0o755 })
    for (const version of ['v18.18.2', 'v16.20.2', 'v18.9.9']) {
      await answer(version)
      await failsWith(
        setup,
        'pluginserver-node',
        new RegExp(
          `^the plugin server would run on .*old-node ${version.replace(/\./g, '\\.')} \\(named by .*kong-js-pluginserver's #!\\); the plugin needs Node >= 18\\.19\\.0$`,
        ),
        /^pluginserver_js_start_cmd = \/path\/to\/node /,
      )
    }
    for (const version of ['v18.19.0', 'v18.20.1', 'v20.0.0']) {
      await answer(version)
      const { checks } = await doctor(setup)
      const c = checks.find((x) => x.name === 'pluginserver-node')
      assert.equal(c?.ok, true, `${version}: ${c?.message}`)
      assert.match(
        c?.message ?? '',
        new RegExp(`runs on .*old-node ${version.replace(/\./g, '\\.')} `),
      )
    }
  })

  test('fails: database = off without declarative_config', async () => {
    const setup = await node()
    delete (setup.conf as Partial<Record<string, string>>).declarative_config
    const { checks } = await doctor(setup)
    const c = checks.find((x) => x.name === 'declarative-config')
    assert.match(c?.message ?? '', /database = off but declarative_config is not set/)
    assert.match(c?.fix ?? '', /KONG_DECLARATIVE_CONFIG/)
  })

  test('fails: the declarative config has no entry of the plugin', async () => {
    const setup = await node()
    await writeFile(join(setup.dir, 'kong.yml'), '_format_version: "3.0"\nservices: []\n')
    const { checks } = await doctor(setup)
    const c = checks.find((x) => x.name === 'declarative-config')
    assert.match(
      c?.message ?? '',
      /has no enabled kong-upstream-jwt entry: the plugin is loaded but runs on no request/,
    )
  })

  test('fails: the declarative config does not parse', async () => {
    const setup = await node()
    await writeFile(join(setup.dir, 'kong.yml'), 'services: [\n')
    const { checks } = await doctor(setup)
    const c = checks.find((x) => x.name === 'declarative-config')
    assert.match(c?.message ?? '', /kong\.yml \(from .*kong\.conf\) cannot be read: /)
  })

  test('fails: the key file does not exist', async () => {
    const setup = await node()
    await writeFile(
      join(setup.dir, 'kong.yml'),
      setup.yml.replace(/signing\.key\.pem/, 'missing.pem'),
    )
    await failsWith(
      setup,
      'keys services[orders].plugins[0]',
      /jwt\/missing\.pem does not exist/,
      /kong-upstream-jwt keygen --out .*jwt/,
    )
  })

  test("fails: Kong's user cannot read the key", async () => {
    const setup = await node()
    await chmod(join(setup.dir, 'jwt', 'signing.key.pem'), 0o600)
    await failsWith(
      setup,
      'keys services[orders].plugins[0]',
      /cannot read .*signing\.key\.pem: nobody cannot read/,
      /^chown nobody .*signing\.key\.pem && chmod 600/,
    )
  })

  test('fails: the key does not belong to the certificate', async () => {
    const setup = await node()
    const other = await writeKeys(join(setup.dir, 'jwt'), 'ES256', { name: 'other' })
    await chmod(other.key, 0o644)
    await writeFile(
      join(setup.dir, 'kong.yml'),
      setup.yml.replace(/[^ ]*signing\.key\.pem/, other.key),
    )
    await failsWith(
      setup,
      'keys services[orders].plugins[0]',
      /the private key in .*other\.key\.pem does not belong to the certificate/,
      /keygen/,
    )
  })

  test('fails: the certificate has expired', async () => {
    const setup = await node()
    const old = await writeKeys(join(setup.dir, 'jwt'), 'ES256', {
      name: 'old',
      notBefore: new Date(Date.now() - 10 * 86400_000),
      notAfter: new Date(Date.now() - 86400_000),
    })
    await chmod(old.key, 0o644)
    await writeFile(
      join(setup.dir, 'kong.yml'),
      setup.yml
        .replace(/[^ ]*signing\.key\.pem/, old.key)
        .replace(/[^ ]*signing\.cert\.cer/, old.certDer),
    )
    await failsWith(setup, 'keys services[orders].plugins[0]', /expired/, /keygen/)
  })

  test('fails: a plugin entry with an invalid option', async () => {
    const setup = await node()
    await writeFile(
      join(setup.dir, 'kong.yml'),
      setup.yml.replace('algorithm: ES256', 'algorithm: HS256'),
    )
    await failsWith(
      setup,
      'keys services[orders].plugins[0]',
      /option "algorithm" must be one of/,
      /correct the plugin's config at services\[orders\]\.plugins\[0\]/,
    )
  })

  test('fails: key variables set but not passed to nginx workers', async () => {
    const setup = await node()
    const k = await readFile(join(setup.dir, 'kong.yml'), 'utf8')
    const key = /private_key_location: (.*)/.exec(k)?.[1] as string
    const cert = /public_key_location: (.*)/.exec(k)?.[1] as string
    setup.env.KONG_SSL_CERT_DER = cert
    await failsWith(
      setup,
      'nginx-env',
      /KONG_SSL_CERT_DER is set but nginx does not pass it to its workers.*no JWT header/,
      /^KONG_NGINX_MAIN_ENV="KONG_SSL_CERT_DER"/,
    )
    setup.env.KONG_NGINX_MAIN_ENV = 'KONG_SSL_CERT_DER'
    assert.equal((await doctor(setup)).code, 0)
    // With a custom nginx template instead.
    delete setup.env.KONG_NGINX_MAIN_ENV
    const template = join(setup.dir, 'nginx.template')
    await writeFile(template, 'env KONG_SSL_CERT_DER;\nworker_processes auto;\n')
    assert.equal((await doctor(setup, ['--nginx-template', template])).code, 0)
    assert.ok(key)
  })

  test("fails: KONG_SSL_CERT_KEY with ssl on proxy_listen (it is Kong's own ssl_cert_key)", async () => {
    const setup = await node()
    const k = await readFile(join(setup.dir, 'kong.yml'), 'utf8')
    setup.env.KONG_SSL_CERT_KEY = /private_key_location: (.*)/.exec(k)?.[1] as string
    setup.env.KONG_NGINX_MAIN_ENV = 'KONG_SSL_CERT_KEY'
    await failsWith(
      setup,
      'ssl-cert-key',
      /KONG_SSL_CERT_KEY is also Kong's own ssl_cert_key: with ssl in proxy_listen Kong refuses to start \("ssl_cert must be specified"\)/,
      /unset KONG_SSL_CERT_KEY/,
    )
    setup.env.KONG_PROXY_LISTEN = '0.0.0.0:8000'
    assert.equal((await doctor(setup)).code, 0)
  })

  test('fails: a Kong before 3.8 with a body buffer below max_body_size', async () => {
    const setup = await node()
    setup.conf.nginx_http_client_body_buffer_size = '8k'
    await failsWith(
      setup,
      'body-buffer',
      /Kong 3\.7 cannot read bodies nginx buffered to disk: requests with bodies between 8k and max_body_size \(10485760 bytes\) end with 500/,
      /^nginx_http_client_body_buffer_size = 10m/,
      ['--kong-version', '3.7'],
    )
    assert.equal((await doctor(setup, ['--kong-version', '3.9'])).code, 0)
  })

  test('usage errors exit 2', async () => {
    const r = await cli(['kong', 'doctor', '--kong-version', 'latest'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--kong-version "latest" is not a version like 3\.9/)
  })
})
