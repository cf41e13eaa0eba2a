/**
 * The HTTPS listener's certificates (Kong's `proxy_listen … ssl`): a default certificate from
 * `ssl_cert`/`ssl_cert_key` files, and per-name certificates from `certificates` entities with
 * `snis`, picked by the client's SNI as Kong picks them. Swapped whole on reload.
 * @module
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:https'
import { createSecureContext, type SecureContext } from 'node:tls'
import { GatewayConfigError } from '../core/errors.js'
import type { CertificateEntry } from './config-tls.js'

/** Files of the default certificate (`--ssl-cert`, `--ssl-key`). */
export interface SslFiles {
  readonly cert: string
  readonly key: string
}

/** Certificates of the HTTPS listener, ready to serve. */
export interface ListenerTls {
  /** PEMs of the default certificate, for clients without SNI or with an unknown name. */
  readonly defaults: { readonly cert: string; readonly key: string }
  /** The context for a server name, or undefined for the default. */
  contextFor(servername: string): SecureContext | undefined
}

async function readPem(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new GatewayConfigError(
      `${flag} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: err },
    )
  }
}

/** Checks that the key belongs to the certificate; returns the key type. */
function checkPair(cert: string, key: string, where: string): string | undefined {
  let x509: X509Certificate
  let priv: ReturnType<typeof createPrivateKey>
  try {
    x509 = new X509Certificate(cert)
  } catch (err) {
    throw new GatewayConfigError(`${where}: the certificate cannot be parsed`, { cause: err })
  }
  try {
    priv = createPrivateKey(key)
  } catch (err) {
    throw new GatewayConfigError(`${where}: the key is not a PEM private key (or is encrypted)`, {
      cause: err,
    })
  }
  if (!x509.checkPrivateKey(priv))
    throw new GatewayConfigError(`${where}: certificate does not match key`)
  return x509.publicKey.asymmetricKeyType
}

/**
 * Kong's SNI lookup: the exact name, then the name with its first label as `*`
 * (`*.example.com`), then with its last label as `*` (`example.*`).
 */
export function sniCandidates(servername: string): string[] {
  const name = servername.toLowerCase().replace(/\.$/, '')
  const out = [name]
  const first = name.indexOf('.')
  if (first > 0) out.push(`*${name.slice(first)}`)
  const last = name.lastIndexOf('.')
  if (last > 0) out.push(`${name.slice(0, last)}.*`)
  return out
}

/**
 * Reads the default certificate and builds a context per SNI of the `certificates` entities
 * (whose key pairs the configuration has checked).
 *
 * @example
 * ```ts
 * const tls = await loadListenerTls({ cert: 'server.pem', key: 'server.key' }, config.certificates ?? [])
 * tls.contextFor('api.example.com')
 * ```
 * @throws {GatewayConfigError} a file that cannot be read, or a key that does not match
 */
export async function loadListenerTls(
  files: SslFiles,
  certificates: readonly CertificateEntry[],
): Promise<ListenerTls> {
  const [cert, key] = await Promise.all([
    readPem(files.cert, '--ssl-cert'),
    readPem(files.key, '--ssl-key'),
  ])
  const defaultType = checkPair(cert, key, `--ssl-cert ${files.cert} / --ssl-key ${files.key}`)
  const byName = new Map<string, SecureContext>()
  for (const c of certificates) {
    if (c.snis.length === 0) continue
    // Node's SNI switch (UseSNIContext) replaces only the server certificate of the new
    // context's key type and keeps the default's other types, so a certificate of another
    // type than the default, or a second one (cert_alt), could lose to the default.
    if (c.cert_alt !== undefined)
      throw new GatewayConfigError(
        `certificate ${c.id}: cert_alt/key_alt cannot be served for its snis (Node switches one certificate per name); serve one key type`,
      )
    const type = new X509Certificate(c.cert).publicKey.asymmetricKeyType
    if (type !== defaultType)
      throw new GatewayConfigError(
        `certificate ${c.id}: its key type (${type}) differs from the default certificate's (${defaultType}); on an SNI match Node would still offer the default's, so use the same key type`,
      )
    const context = createSecureContext({ cert: c.cert, key: c.key })
    for (const name of c.snis) byName.set(name, context)
  }
  return {
    defaults: { cert, key },
    contextFor(servername) {
      for (const name of sniCandidates(servername)) {
        const context = byName.get(name)
        if (context) return context
      }
      return undefined
    },
  }
}

/** An HTTPS server whose certificates can be swapped while it runs. */
export interface HttpsListener {
  readonly server: Server
  update(tls: ListenerTls): void
}

/**
 * An HTTPS server for the proxy handler, serving `tls` (and what `update` swaps in).
 *
 * @example
 * ```ts
 * const listener = createHttpsListener(tls, (req, res) => handle(req, res))
 * listener.server.listen(8443)
 * ```
 */
export function createHttpsListener(
  tls: ListenerTls,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): HttpsListener {
  let current = tls
  const server = createServer(
    {
      ...current.defaults,
      SNICallback(servername, done) {
        // undefined: the server's own (default) context.
        done(null, current.contextFor(servername))
      },
    },
    handler,
  )
  return {
    server,
    update(next) {
      current = next
      server.setSecureContext({ ...next.defaults })
    },
  }
}
