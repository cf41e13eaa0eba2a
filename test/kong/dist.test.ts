/**
 * The operator's path from a checkout: `npm pack` (prepack builds), the Dockerfile's npm
 * install into a temporary prefix, then, under Node 18.19.1 (kong:3.9's nodejs) and a current
 * 22.x fetched as npm packages, the installed `kong install` (the Dockerfile's plugin step),
 * the plugin server listing the plugin and signing through it, `kong doctor`, and require().
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { importX509, jwtVerify } from 'jose'
import { writeKeys } from '../../testing/keys.js'
import { handleEvent, KongRpc, startInstance, startPluginServer } from '../../testing/kong.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { dockerfilePluginStep } from '../helpers/dockerfile.js'
import { NODE_VERSIONS, nodeBinary } from '../helpers/node-versions.js'

const exec = promisify(execFile)

/** Connects to the plugin server; a socket file may show before its listener is ready. */
async function connectWhenListening(socket: string, output: () => string): Promise<KongRpc> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await KongRpc.connect(socket)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || attempt >= 40) {
        throw new Error(`${(err as Error).message}; plugin server said: ${output()}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

describe('packed tarball, installed into a prefix, on each Node version', {
  timeout: 900_000,
}, () => {
  let dir: string
  let tarball: string
  let prefix: string
  let step: string
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string

  before(async () => {
    dir = await makeTempDir()
    await chmod(dir, 0o755)
    // A checkout without dist/: the files git knows, and the installed node_modules.
    const checkout = join(dir, 'checkout')
    const { stdout } = await exec(
      'git',
      ['ls-files', '--cached', '--others', '--exclude-standard'],
      { cwd: ROOT },
    )
    for (const file of stdout.split('\n').filter(Boolean)) {
      await mkdir(dirname(join(checkout, file)), { recursive: true })
      await cp(join(ROOT, file), join(checkout, file)).catch(() => {})
    }
    await symlink(join(ROOT, 'node_modules'), join(checkout, 'node_modules'))
    const packed = await exec('npm', ['pack', '--pack-destination', dir, '--silent'], {
      cwd: checkout,
      maxBuffer: 64 * 1024 * 1024,
    })
    tarball = join(dir, packed.stdout.trim().split('\n').at(-1) as string)
    // The Dockerfile's plugin step: its npm install, with the tarball and a prefix of ours.
    step = dockerfilePluginStep(await readFile(join(ROOT, 'examples/kong/Dockerfile'), 'utf8'))
    const npmInstall = /^npm install -g (.*?) &&/.exec(step)?.[1]
    assert.ok(npmInstall, step)
    prefix = join(dir, 'prefix')
    const args = npmInstall.replace('/tmp/kong-upstream-jwt-*.tgz', tarball).split(' ')
    await exec('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', ...args], {
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    })
  })
  after(() => removeDir(dir))

  test('npm pack built dist/ (prepack) into the tarball', async () => {
    const { stdout } = await exec('tar', ['tzf', tarball], { maxBuffer: 16 * 1024 * 1024 })
    for (const f of [
      'package/dist/kong/plugin.cjs',
      'package/dist/kong/entry.d.cts',
      'package/dist/cli/main.js',
    ])
      assert.ok(stdout.split('\n').includes(f), f)
  })

  for (const nodeVersion of NODE_VERSIONS) {
    test(`Node ${nodeVersion}: kong install, the plugin server, signing, kong doctor, require()`, async (t) => {
      const node = await nodeBinary(nodeVersion)
      const env = { PATH: `${dirname(node)}:${join(prefix, 'bin')}:/usr/bin:/bin` }
      const plugins = join(dir, `plugins-${nodeVersion}`)
      // The Dockerfile's kong install, as it is written there, with our plugins folder.
      const command = (/&& (kong-upstream-jwt kong install [^&]*)/.exec(step)?.[1] ?? '').trim()
      assert.match(
        command,
        /^kong-upstream-jwt kong install --plugins-dir \/usr\/local\/kong\/js-plugins$/,
      )
      const argv = command.replace('/usr/local/kong/js-plugins', plugins).split(' ').slice(1)
      const installed = await exec(join(prefix, 'bin', 'kong-upstream-jwt'), argv, { env })
      const server = join(prefix, 'bin', 'kong-js-pluginserver')
      assert.match(
        installed.stdout,
        new RegExp(`^pluginserver_js_start_cmd = ${server} --plugins-directory ${plugins}`, 'm'),
      )

      const config = await exec(
        join(prefix, 'bin', 'kong-upstream-jwt'),
        ['kong', 'config', '--plugins-dir', plugins],
        { env },
      )
      assert.equal(config.stderr, '')
      assert.match(
        config.stdout,
        new RegExp(
          `^pluginserver_js_query_cmd = ${server} --plugins-directory ${plugins} --dump-all-plugins$`,
          'm',
        ),
      )

      const file = await readFile(join(plugins, 'kong-upstream-jwt.js'), 'utf8')
      assert.match(
        file.split('\n', 1)[0] as string,
        new RegExp(`^// kong-upstream-jwt ${version.replace(/\./g, '\\.')}: `),
      )
      const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]))
      const required = [...file.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1] as string)
      assert.deepEqual(
        required.filter((r) => !builtins.has(r)),
        [],
      )

      const { stdout } = await exec(
        server,
        ['--plugins-directory', plugins, '--dump-all-plugins'],
        { env },
      )
      const [info] = JSON.parse(stdout)
      assert.equal(info.Name, 'kong-upstream-jwt')
      assert.equal(info.Priority, 790)
      assert.equal(info.Version, version)

      const keys = await writeKeys(dir, 'RS256', { name: `n${nodeVersion}` })
      await chmod(keys.key, 0o644)
      const kongPrefix = join(dir, `kong-${nodeVersion}`)
      await mkdir(kongPrefix)
      await chmod(kongPrefix, 0o777)
      const ps = await startPluginServer(
        plugins,
        kongPrefix,
        {},
        {
          node,
          server: join(prefix, 'lib', 'node_modules', 'kong-pdk', 'bin', 'kong-js-pluginserver'),
        },
      )
      t.after(() => ps.stop())
      const rpc = await connectWhenListening(ps.socket, ps.output)
      t.after(() => rpc.close())
      const id = await startInstance(rpc, {
        private_key_location: keys.key,
        public_key_location: keys.certDer,
      })
      const body = Buffer.from('{"order":42}')
      const result = await handleEvent(rpc, id, 'access', {
        headers: { 'content-length': String(body.length) },
        body,
        service: { id: 's', name: 'orders' },
      })
      const claims = (
        await jwtVerify(
          result.setHeaders.jwt as string,
          await importX509(keys.cert.toString(), 'RS256'),
        )
      ).payload
      assert.equal(claims.aud, 'orders')

      const yml = join(dir, `kong-${nodeVersion}.yml`)
      await writeFile(
        yml,
        `_format_version: "3.0"\nplugins:\n  - name: kong-upstream-jwt\n    config: { private_key_location: ${keys.key}, public_key_location: ${keys.certDer} }\n`,
      )
      const conf = join(dir, `kong-${nodeVersion}.conf`)
      await writeFile(
        conf,
        installed.stdout
          .split('\n')
          .filter((l) => /^[a-z_]+ = /.test(l))
          .join('\n')
          .replaceAll(
            '/usr/local/kong/js_pluginserver.sock',
            join(kongPrefix, 'js_pluginserver.sock'),
          )
          .replace('--kong-prefix /usr/local/kong', `--kong-prefix ${kongPrefix}`)
          .replace(
            `pluginserver_js_start_cmd = ${server}`,
            `pluginserver_js_start_cmd = ${node} ${server}`,
          ),
      )
      const doctor = await exec(
        join(prefix, 'bin', 'kong-upstream-jwt'),
        ['kong', 'doctor', '--conf', conf, '--user', 'nobody'],
        {
          env: { ...env, KONG_DATABASE: 'off', KONG_DECLARATIVE_CONFIG: yml },
        },
      ).catch((err) => err)
      assert.match(doctor.stdout, /^all checks passed$/m, doctor.stdout)
      assert.match(
        doctor.stdout,
        new RegExp(
          `^ok {3}pluginserver-node: the plugin server runs on ${node} v${nodeVersion.replace(/\./g, '\\.')} `,
          'm',
        ),
      )

      const req = await exec(
        node,
        ['-e', "console.log(Object.keys(require('kong-upstream-jwt/kong')).sort().join(','))"],
        {
          cwd: join(prefix, 'lib'),
          env,
        },
      )
      assert.equal(req.stdout.trim(), 'Name,Plugin,Priority,Schema,Version')

      const other = await exec(join(prefix, 'bin', 'kong-upstream-jwt'), ['inspect', 'a.b.c'], {
        env,
      }).catch((err) => err)
      if (nodeVersion.startsWith('18.')) {
        assert.equal(other.code, 1)
        assert.match(
          other.stderr,
          /ERR_NODE_UNSUPPORTED: this command needs Node >= 20\.18\.1 \(this is 18\.19\.1\)/,
        )
      } else {
        assert.doesNotMatch(String(other.stderr), /ERR_NODE_UNSUPPORTED|ReferenceError/)
      }
    })
  }
})
