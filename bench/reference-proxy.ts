/**
 * The reference signing proxy: what "hash the body, sign on the crypto thread pool, forward"
 * costs with nothing else — node:http + undici, about 60 lines. The gateway is measured
 * against it. Run as a child process by bench/gateway.ts:
 *   node --import tsx bench/reference-proxy.ts PORT UPSTREAM KEY.pem ALG [spool]
 * With `spool`, bodies go to a temp file while hashed (the large-body reference).
 */
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Pool } from 'undici'

const [port, upstream, keyFile, alg, mode] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string?,
]
const key = createPrivateKey(await readFile(keyFile))
const digest = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
const keyInput = alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' as const } : key
const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg })).toString('base64url')
const pool = new Pool(upstream, { connections: 256 })
const dir = await mkdtemp(join(tmpdir(), 'ref-proxy-'))

const server = createServer((req, res) => {
  handle(req, res).catch(() => res.destroy()) // a client that went away
})

async function handle(req: IncomingMessage, res: ServerResponse) {
  const hash = createHash('sha256')
  let size = 0
  const chunks: Buffer[] = []
  const file = mode === 'spool' ? join(dir, randomUUID()) : undefined
  const out = file ? createWriteStream(file, { highWaterMark: 1 << 20 }) : undefined
  for await (const chunk of req) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
    if (out) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
    } else chunks.push(chunk as Buffer)
  }
  if (out) await new Promise<void>((r) => out.end(() => r()))
  const now = Math.floor(Date.now() / 1000)
  const payload = Buffer.from(
    JSON.stringify({
      iat: now,
      exp: now + 60,
      jti: randomUUID(),
      payloadhash: size ? hash.digest('hex') : '',
    }),
  ).toString('base64url')
  const input = `${header}.${payload}`
  const sig: Buffer = await new Promise((resolve, reject) =>
    sign(digest, Buffer.from(input), keyInput, (e, s) => (e ? reject(e) : resolve(s))),
  )
  const { host: _host, connection: _c, 'transfer-encoding': _te, ...headers } = req.headers
  const upstreamRes = await pool.request({
    method: req.method as 'POST',
    path: req.url ?? '/',
    headers: {
      ...headers,
      'content-length': String(size),
      jwt: `${input}.${sig.toString('base64url')}`,
    },
    body: file
      ? createReadStream(file, { highWaterMark: 1 << 20 })
      : size
        ? Buffer.concat(chunks)
        : null,
  })
  res.writeHead(upstreamRes.statusCode, upstreamRes.headers as Record<string, string>)
  await pipeline(upstreamRes.body, res)
  if (file) await rm(file, { force: true })
}
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'))
process.on('SIGTERM', () => {
  server.close()
  void pool.close()
  void rm(dir, { recursive: true, force: true }).then(() => process.exit(0))
})
