import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { loadConfigFile } from '../../src/gateway/config.js'
import { pluginEntries } from '../../src/kong/doctor/declarative.js'
import { kongSchema } from '../../src/kong/schema.js'
import { PLUGIN_SERVER } from '../../testing/kong.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'
import { cli } from '../helpers/cli.js'
import { dockerfileEnv, dockerfilePluginStep } from '../helpers/dockerfile.js'

const EXAMPLE = fileURLToPath(new URL('../../examples/kong/', import.meta.url))

/** Checks a plugin config against the Schema Kong gets from the plugin server. */
function validate(config: Record<string, unknown>): string[] {
  const fields = Object.assign({}, ...kongSchema()) as Record<string, Record<string, unknown>>
  const problems: string[] = []
  for (const [name, value] of Object.entries(config)) {
    const f = fields[name]
    if (!f) {
      problems.push(`unknown field ${name}`)
      continue
    }
    const type = f.type === 'integer' ? 'number' : f.type === 'map' ? 'object' : f.type
    if (typeof value !== type) problems.push(`${name}: expected ${f.type}`)
    if (Array.isArray(f.one_of) && !f.one_of.includes(value)) problems.push(`${name}: not one_of`)
    const between = f.between as [number, number] | undefined
    if (between && ((value as number) < between[0] || (value as number) > between[1]))
      problems.push(`${name}: not between`)
  }
  return problems
}

describe('examples/kong', () => {
  let dir: string
  before(async () => {
    dir = await makeTempDir()
    await chmod(dir, 0o755)
  })
  after(() => removeDir(dir))

  test("the README's Kong section shows these files as they are", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    const block = (lang: string) =>
      (
        new RegExp(`\`\`\`${lang}\n([\\s\\S]*?)\`\`\``).exec(
          readme.slice(readme.indexOf('## Run in Kong')),
        )?.[1] ?? ''
      )
        .split('\n')
        .map((l) => l.replace(/^ {3}/, ''))
        .join('\n')
        .trimEnd()
    assert.equal(
      block('dockerfile'),
      (await readFile(join(EXAMPLE, 'Dockerfile'), 'utf8')).trimEnd(),
    )
    assert.equal(block('yaml'), (await readFile(join(EXAMPLE, 'kong.yml'), 'utf8')).trimEnd())
  })

  test('the standalone gateway loads its kong.yml', async () => {
    const config = await loadConfigFile(join(EXAMPLE, 'kong.yml'))
    assert.equal(config.services[0]?.name, 'orders')
  })

  test("its plugin entries are valid against the plugin's Schema", async () => {
    const entries = await pluginEntries(join(EXAMPLE, 'kong.yml'))
    assert.equal(entries.length, 1)
    for (const e of entries) assert.deepEqual(validate(e.config), [], e.where)
    assert.deepEqual(validate({ algorithm: 'HS256', token_ttl: 0, nope: 1 }).length, 3)
  })

  test("kong doctor passes on the Dockerfile's environment (paths moved under a temporary folder)", async () => {
    const dockerfile = await readFile(join(EXAMPLE, 'Dockerfile'), 'utf8')
    const move = (s: string) =>
      s
        .replaceAll('/usr/local/bin/kong-js-pluginserver', PLUGIN_SERVER)
        .replaceAll('/usr/local/kong', join(dir, 'usr-local-kong'))
        .replaceAll('/etc/kong', join(dir, 'etc-kong'))
    const env = Object.fromEntries(
      Object.entries(dockerfileEnv(dockerfile)).map(([k, v]) => [
        k,
        // In the image, #!/usr/bin/env node finds the apt nodejs (/usr/bin/node); here the
        // command names this test's node, which need not be there.
        k === 'KONG_PLUGINSERVER_JS_START_CMD' ? `${process.execPath} ${move(v)}` : move(v),
      ]),
    )
    assert.equal(env.KONG_DATABASE, 'off')
    assert.equal(env.KONG_SSL_CERT_KEY, undefined)
    await mkdir(join(dir, 'usr-local-kong'), { recursive: true })
    await chmod(join(dir, 'usr-local-kong'), 0o777)
    await mkdir(join(dir, 'etc-kong'), { recursive: true })
    // The plugin step, as the image runs it (its npm install is run by the tarball test).
    const step = dockerfilePluginStep(dockerfile)
    const install = /kong-upstream-jwt (kong install --plugins-dir \S+)/.exec(step)?.[1]
    assert.ok(install)
    const r = await cli(move(install).split(' '), { env: { PATH: process.env.PATH ?? '' } })
    assert.equal(r.code, 0, r.stderr)
    await copyFile(join(EXAMPLE, 'kong.yml'), join(dir, 'etc-kong', 'kong.yml'))
    await writeFile(
      join(dir, 'etc-kong', 'kong.yml'),
      move(await readFile(join(EXAMPLE, 'kong.yml'), 'utf8')),
    )
    const keygen = await cli(['keygen', '--out', join(dir, 'etc-kong', 'jwt')])
    assert.equal(keygen.code, 0, keygen.stderr)
    await chmod(join(dir, 'etc-kong', 'jwt', 'key.pem'), 0o644)
    await writeFile(join(dir, 'kong.conf'), '')
    const doctor = await cli(
      ['kong', 'doctor', '--conf', join(dir, 'kong.conf'), '--user', 'nobody'],
      { env: { ...env, PATH: process.env.PATH ?? '' } },
    )
    assert.equal(doctor.code, 0, doctor.stdout)
    assert.match(doctor.stdout, /^all checks passed$/m)
  })

  test('its upstream verifies a token signed with its kong.yml settings and refuses a request without one', async (t) => {
    const keys = join(dir, 'up-keys')
    assert.equal((await cli(['keygen', '--type', 'ec', '--out', keys])).code, 0)
    const child = spawn(process.execPath, [join(EXAMPLE, 'upstream.mjs')], {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        JWT_CERT: join(keys, 'cert.pem'),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    t.after(() => child.kill())
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`upstream exited ${code}`)))
      child.stdout.on('data', (d) => {
        const m = /listening on (\d+)/.exec(String(d))
        if (m) resolve(Number(m[1]))
      })
    })
    const body = '{"order":42}'
    const signed = await cli(
      [
        'sign',
        '-k',
        join(keys, 'key.pem'),
        '-c',
        join(keys, 'cert.cer'),
        '--algorithm',
        'ES256',
        '--service',
        'orders',
        '--issuer',
        'kong',
      ],
      { stdin: body },
    )
    assert.equal(signed.code, 0, signed.stderr)
    const url = `http://127.0.0.1:${port}/orders`
    const ok = await fetch(url, { method: 'POST', body, headers: { JWT: signed.stdout.trim() } })
    assert.equal(ok.status, 200, await ok.clone().text())
    assert.equal(((await ok.json()) as { aud?: string }).aud, 'orders')
    const refused = await fetch(url, { method: 'POST', body })
    assert.equal(refused.status, 401)
    await refused.arrayBuffer()
  })
})
