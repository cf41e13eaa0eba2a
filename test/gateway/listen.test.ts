import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { pino } from 'pino'
import { startGateway } from '../../src/gateway/gateway.js'
import { makePki } from '../../testing/pki.js'
import { tempDir } from '../../testing/tmp.js'
import { signingPlugin } from '../helpers/gateway-io.js'

test('a listen address in use is a clear error naming it', async (t) => {
  const dir = await tempDir(t)
  const pki = await makePki(dir)
  const busy = createServer()
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
  t.after(() => busy.close())
  const port = (busy.address() as { port: number }).port
  await assert.rejects(
    startGateway({
      config: {
        _format_version: '3.0',
        services: [{ name: 's', url: 'http://127.0.0.1:9', routes: [{ paths: ['/'] }] }],
        plugins: [signingPlugin(pki)],
      },
      listen: { host: '127.0.0.1', port },
      adminListen: false,
      logger: pino({ level: 'silent' }),
      env: {},
    }),
    new RegExp(`cannot listen on 127.0.0.1:${port} \\(EADDRINUSE\\)`),
  )
})
