import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  listensWithSsl,
  loadKongConf,
  nginxEnvNames,
  nginxSize,
  parseKongConf,
} from '../../src/kong/doctor/kong-conf.js'
import { parseServerCommand } from '../../src/kong/doctor/plugin-server.js'
import { tempDir } from '../../testing/tmp.js'

test('kong.conf lines as Kong reads them: comments, escaped #, NONE, the last line wins, names as written', () => {
  assert.deepEqual(
    parseKongConf(
      [
        '# a comment',
        'plugins = bundled   # trailing comment',
        'plugins = bundled,kong-upstream-jwt',
        'Database = off',
        'nginx_main_env = A\\#B',
        'declarative_config = NONE',
        'not a setting',
      ].join('\n'),
    ),
    {
      plugins: 'bundled,kong-upstream-jwt',
      Database: 'off',
      nginx_main_env: 'A#B',
      declarative_config: '',
    },
  )
})

test('KONG_* variables win over kong.conf, which wins over Kong defaults', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'kong.conf')
  await writeFile(file, 'database = off\nplugins = bundled\n')
  const conf = await loadKongConf(file, { KONG_PLUGINS: 'bundled, kong-upstream-jwt ' })
  assert.deepEqual(conf.list('plugins'), ['bundled', 'kong-upstream-jwt'])
  assert.equal(conf.source('plugins'), 'from KONG_PLUGINS')
  assert.equal(conf.get('database'), 'off')
  assert.equal(conf.source('database'), `from ${file}`)
  assert.equal(conf.get('nginx_http_client_body_buffer_size'), '8k')
  assert.equal(conf.source('nginx_http_client_body_buffer_size'), "Kong's default")
  assert.equal((await loadKongConf(file, { KONG_DATABASE: 'NONE' })).get('database'), '')
})

test('nginx_main_env values, sizes, ssl listeners and plugin server commands', () => {
  assert.deepEqual(nginxEnvNames('KONG_SSL_CERT_KEY; env KONG_SSL_CERT_DER; env TZ=UTC'), [
    'KONG_SSL_CERT_KEY',
    'KONG_SSL_CERT_DER',
    'TZ',
  ])
  assert.deepEqual(nginxEnvNames(''), [])
  assert.equal(nginxSize('8k'), 8192)
  assert.equal(nginxSize('1m'), 1024 * 1024)
  assert.equal(nginxSize('100'), 100)
  assert.equal(nginxSize('1x'), undefined)
  assert.equal(
    listensWithSsl('0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport'),
    true,
  )
  assert.equal(listensWithSsl('0.0.0.0:8000, 127.0.0.1:8001 http2'), false)
  assert.deepEqual(
    parseServerCommand(
      '/usr/bin/node /usr/local/bin/kong-js-pluginserver -d /p --kong-prefix=/k --sock-name s.sock',
    ),
    {
      executable: '/usr/local/bin/kong-js-pluginserver',
      interpreter: '/usr/bin/node',
      pluginsDir: '/p',
      kongPrefix: '/k',
      sockName: 's.sock',
    },
  )
  // Split as /bin/sh splits it: quotes, backslashes, assignments before the command, and
  // nothing after an operator or a comment.
  assert.deepEqual(
    parseServerCommand(
      `NODE_OPTIONS=--max-old-space-size=256 '/opt/my node/bin/node' /opt/kong\\ js/kong-js-pluginserver -d "/js plugins" --kong-prefix $KONG_PREFIX 2>&1 # -d /not`,
    ),
    {
      executable: '/opt/kong js/kong-js-pluginserver',
      interpreter: '/opt/my node/bin/node',
      pluginsDir: '/js plugins',
      kongPrefix: '$KONG_PREFIX',
      sockName: 'js_pluginserver.sock',
    },
  )
  assert.equal(
    parseServerCommand('NODE_OPTIONS=x /usr/local/bin/kong-js-pluginserver -d /p').interpreter,
    undefined,
  )
  assert.equal(
    parseServerCommand('/usr/local/bin/kong-js-pluginserver; -d /p').pluginsDir,
    undefined,
  )
  assert.deepEqual(
    parseServerCommand('/usr/local/bin/kong-js-pluginserver --plugins-directory /p'),
    {
      executable: '/usr/local/bin/kong-js-pluginserver',
      interpreter: undefined,
      pluginsDir: '/p',
      kongPrefix: '/usr/local/kong',
      sockName: 'js_pluginserver.sock',
    },
  )
})
