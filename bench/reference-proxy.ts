/**
 * The reference signing proxy: what "hash the body, sign on the crypto thread pool, forward"
 * costs with nothing else — node:http + undici, callbacks only (no promise on the hot path):
 * the body is read with 'data' events, signed with the crypto.sign callback and forwarded with
 * undici's Pool.stream. It sends the token the gateway sends in quick mode (header with `x5c`,
 * claims with `aud`), so both do the same protocol work. Run by bench/gateway.ts:
 *   node bench/reference-proxy.ts PORT UPSTREAM KEY.pem CERT.der ALG [stream|dispatch|spool|unsigned]
 * `dispatch` forwards with undici's lowest API instead (Pool.dispatch and a handler of three
 * callbacks, headers as flat lists both ways: no stream, signal or header object), as the
 * gateway does. With `spool`, bodies go to a temp file while hashed (the large-body reference).
 * `unsigned` forwards as `dispatch` does with neither hash nor token: Node's own floor for a
 * proxy, beside nginx's (what is left of the gateway's CPU once signing is taken away).
 */
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto'
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'undici'

const [port, upstream, keyFile, certFile, alg, mode] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string?,
]
const key = createPrivateKey(readFileSync(keyFile))
const digest = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
const keyInput = alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' as const } : key
const x5c = [readFileSync(certFile).toString('base64')]
const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg, x5c })).toString('base64url')
const pool = new Pool(upstream, { connections: 256 })
const dir = mode === 'spool' ? mkdtempSync(join(tmpdir(), 'ref-proxy-')) : ''

function handle(req: IncomingMessage, res: ServerResponse): void {
  const hash = mode === 'unsigned' ? undefined : createHash('sha256')
  const chunks: Buffer[] = []
  let size = 0
  const file = dir ? join(dir, randomUUID()) : ''
  const out = file ? createWriteStream(file, { highWaterMark: 1 << 20 }) : undefined
  req.on('data', (chunk: Buffer) => {
    hash?.update(chunk)
    size += chunk.length
    if (!out) chunks.push(chunk)
    else if (!out.write(chunk)) {
      req.pause()
      out.once('drain', () => req.resume())
    }
  })
  req.on('error', () => res.destroy())
  req.on('end', () => (out ? out.end(() => signAndForward()) : signAndForward()))
  function signAndForward(): void {
    if (mode === 'unsigned') {
      const body = size ? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) : null
      dispatch(req.method as 'POST', req, '', size, body, res)
      return
    }
    const now = Math.floor(Date.now() / 1000)
    const payloadhash = size ? hash!.digest('hex') : ''
    const claims = { aud: 'upstream', iat: now, exp: now + 60, jti: randomUUID(), payloadhash }
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
    sign(digest, Buffer.from(input), keyInput, (err, sig) => {
      if (err) return void res.destroy()
      const token = `${input}.${sig.toString('base64url')}`
      const body = file
        ? createReadStream(file, { highWaterMark: 1 << 20 })
        : size
          ? chunks.length === 1
            ? chunks[0]!
            : Buffer.concat(chunks)
          : null
      const method = req.method as 'POST'
      if (mode === 'dispatch') return dispatch(method, req, token, size, body as Buffer | null, res)
      const { host: _h, connection: _c, 'transfer-encoding': _t, ...headers } = req.headers
      headers['content-length'] = String(size)
      headers.jwt = token
      pool.stream(
        { method, path: req.url ?? '/', headers, body },
        ({ statusCode, headers: h }) => {
          res.writeHead(statusCode, h as Record<string, string>)
          return res
        },
        (e) => {
          if (e) res.destroy()
          if (file) rmSync(file, { force: true })
        },
      )
    })
  }
}

// RFC 9110 §7.6.1: these end at each hop (the client's Connection tokens are not looked at).
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

function dispatch(
  method: 'POST',
  req: IncomingMessage,
  token: string,
  size: number,
  body: Buffer | null,
  res: ServerResponse,
): void {
  const raw = req.rawHeaders
  const headers: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    if (name !== 'host' && name !== 'content-length' && !HOP.has(name))
      headers.push(name, raw[i + 1]!)
  }
  headers.push('content-length', String(size))
  if (token) headers.push('jwt', token)
  pool.dispatch(
    { method, path: req.url ?? '/', headers, body },
    {
      onConnect() {},
      onHeaders(statusCode: number, raw: Buffer[], resume: () => void) {
        if (statusCode < 200) return true
        const out: string[] = []
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i]!.toString('latin1')
          if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1]!.toString('latin1'))
        }
        res.writeHead(statusCode, out)
        res.on('drain', resume)
        return true
      },
      onData: (chunk: Buffer) => res.write(chunk),
      onComplete: () => void res.end(),
      onError: () => void res.destroy(),
    },
  )
}

createServer(handle).listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'))
process.on('SIGTERM', () => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
})
