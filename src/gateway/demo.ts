import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { digestBytes } from '../core/body-digest.js'
import { fileExists } from '../core/file-exists.js'
import { rawBodyOf, upstreamJwt, upstreamJwtOf } from '../verify/adapters/node.js'
import { type Gateway, type GatewayOptions, type ListenAddress, startGateway } from './gateway.js'

export interface DemoOptions {
  /** Folder for the demo's keys; default `.state/demo` under the current folder. */
  readonly stateDir?: string
  readonly listen?: ListenAddress
  readonly adminListen?: ListenAddress | false
  readonly logger?: GatewayOptions['logger']
  /** Where the demo prints what it made and how to try it. */
  readonly print?: (line: string) => void
}

export interface Demo {
  readonly gateway: Gateway
  readonly upstreamUrl: string
  close(): Promise<void>
}

export const DEMO_KEY = 'demo-key'

/** A built-in upstream that verifies what it receives and says what it found, as JSON. */
export async function startVerifyingUpstream(
  caFile: string,
  issuer: string,
  audience: string,
): Promise<{ server: Server; url: string }> {
  const guard = upstreamJwt({
    ca: caFile,
    issuer,
    audience,
    onError(err, _req, res) {
      const e = err as { code?: string; message?: string; status?: number }
      res.writeHead(e.status ?? 500, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify(
          { verified: false, code: e.code ?? 'ERR_INTERNAL', message: e.message },
          null,
          2,
        ),
      )
    },
  })
  const server = createServer(async (req, res) => {
    if (!(await guard(req, res))) return
    const token = upstreamJwtOf(req)
    const body = rawBodyOf(req) ?? Buffer.alloc(0)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      `${JSON.stringify(
        {
          verified: true,
          upstream_saw: {
            method: req.method,
            path: req.url,
            body_bytes: body.length,
            body_sha256: body.length ? digestBytes(body).sha256 : '',
          },
          header: token?.header && {
            ...token.header,
            x5c: `${(token.header.x5c as unknown[] | undefined)?.length ?? 0} certificate(s)`,
          },
          claims: token?.claims,
        },
        null,
        2,
      )}\n`,
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/** Starts the demo; see the module description. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`))
  const state = resolve(options.stateDir ?? join('.state', 'demo'))
  const keys = join(state, 'keys')
  if (!(await fileExists(join(keys, 'ca.pem')))) {
    // Loaded only here: key generation brings a polyfill the gateway itself does not need.
    const { keygen } = await import('../keygen/keygen.js')
    await keygen({
      out: keys,
      ca: true,
      subject: 'kong-upstream-jwt demo gateway',
      days: 365,
      force: true,
    })
    print(`demo: made a throwaway CA and gateway key in ${keys} (for development only)`)
  }
  const issuer = 'kong-upstream-jwt-demo'
  // The gateway's `aud` is the service name (no `audience` configured): the upstream expects it.
  const service = 'demo-upstream'
  const upstream = await startVerifyingUpstream(join(keys, 'ca.pem'), issuer, service)
  let gateway: Gateway
  try {
    gateway = await startGateway({
      config: {
        _format_version: '3.0',
        services: [
          {
            name: service,
            url: upstream.url,
            routes: [
              { name: 'open', paths: ['/'] },
              {
                name: 'private',
                paths: ['/private'],
                plugins: [{ name: 'key-auth', config: { hide_credentials: true } }],
              },
            ],
          },
        ],
        consumers: [
          { username: 'demo-user', custom_id: 'demo-1', keyauth_credentials: [{ key: DEMO_KEY }] },
        ],
        plugins: [
          {
            name: 'kong-upstream-jwt',
            config: {
              private_key_location: join(keys, 'key.pem'),
              public_key_location: join(keys, 'chain.pem'),
              issuer,
              key_id: 'auto',
            },
          },
        ],
      },
      listen: options.listen ?? { host: '127.0.0.1', port: 8000 },
      adminListen: options.adminListen ?? { host: '127.0.0.1', port: 8001 },
      env: {},
      ...(options.logger ? { logger: options.logger } : {}),
    })
  } catch (err) {
    upstream.server.close()
    throw err
  }
  print(
    `demo: built-in upstream (verifies every request with the CA in ${keys}) on ${upstream.url}`,
  )
  print(
    `demo: gateway on ${gateway.url}${gateway.adminUrl ? `, admin on ${gateway.adminUrl}` : ''}`,
  )
  print('demo: try')
  print(
    `  curl -s -X POST ${gateway.url}/orders -H 'content-type: application/json' -d '{"id":42}'`,
  )
  print(`  curl -s ${gateway.url}/private/me -H 'apikey: ${DEMO_KEY}'`)
  if (gateway.adminUrl) print(`  curl -s ${gateway.adminUrl}/.well-known/jwks.json`)
  return {
    gateway,
    upstreamUrl: upstream.url,
    async close() {
      await gateway.close()
      await new Promise((r) => upstream.server.close(r))
    },
  }
}
