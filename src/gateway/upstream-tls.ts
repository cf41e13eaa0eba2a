/**
 * TLS to the upstream: the connect options an undici pool uses for an https service, and the
 * cause of a failed handshake in words an operator can act on.
 * @module
 */
import { checkServerIdentity, type PeerCertificate } from 'node:tls'
import { buildConnector } from 'undici'
import type { UpstreamTls } from './config-tls.js'
import { resumePausedParserOnEnd } from './paused-end.js'

/** The TLS part of undici's connect options (passed on to `tls.connect`). */
export interface TlsConnectOptions {
  readonly rejectUnauthorized: boolean
  readonly ca?: string[]
  readonly cert?: string
  readonly key?: string
  readonly checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined
}

/** A chain longer than `tls_verify_depth` allows; OpenSSL's name for it. */
class ChainTooLong extends Error {
  readonly code = 'CERT_CHAIN_TOO_LONG'
}

/**
 * Intermediate CAs between the leaf and the trust anchor, counted as OpenSSL's verify depth
 * does (depth N allows N intermediates). Node's detailed peer certificate links each
 * certificate to its issuer up to the anchor found in the trust store.
 */
function intermediates(cert: PeerCertificate): number {
  let length = 1
  let c = cert as PeerCertificate & { issuerCertificate?: PeerCertificate }
  while (c.issuerCertificate && c.issuerCertificate !== c && length < 100) {
    c = c.issuerCertificate as typeof c
    length++
  }
  return Math.max(0, length - 2)
}

/**
 * TLS options for a service. The server name checked (and sent as SNI) is undici's: the
 * `Host` header sent, which is the service host, or the client's with `preserve_host` — as
 * Kong does.
 */
export function tlsConnectOptions(tls: UpstreamTls): TlsConnectOptions {
  const depth = tls.depth
  return {
    rejectUnauthorized: tls.verify,
    ...(tls.ca.length > 0 ? { ca: [...tls.ca] } : {}),
    ...(tls.client ? { cert: tls.client.cert, key: tls.client.key } : {}),
    ...(depth !== undefined && tls.verify
      ? {
          checkServerIdentity(host: string, cert: PeerCertificate) {
            const err = checkServerIdentity(host, cert)
            if (err) return err
            const n = intermediates(cert)
            return n > depth
              ? new ChainTooLong(
                  `certificate chain too long: ${n} intermediate CAs, tls_verify_depth is ${depth}`,
                )
              : undefined
          },
        }
      : {}),
  }
}

// TLS 1.3 finishes the client's handshake before the server has checked the client's
// certificate, so a refusal (alert 116, certificate required) arrives after undici has sent the
// request, and undici reports only "other side closed". The alert is kept here briefly, by the
// socket's ports, so the failure can still name its cause.
const alerts = new Map<string, Error>()
const portsOf = (s: { localPort?: number | undefined; remotePort?: number | undefined }) =>
  `${s.localPort}>${s.remotePort}`

/**
 * undici's `connect` option for a service: a connector with the service's connect timeout and,
 * for https, its trust, verification and client certificate. Every socket it makes is guarded
 * against undici 7's crash on a connection that ends while its parser is paused
 * (`resumePausedParserOnEnd`).
 *
 * @example
 * ```ts
 * new Pool(origin, { connect: upstreamConnect(service.connect_timeout, service.tls) })
 * ```
 */
export function upstreamConnect(
  timeout: number,
  tls: UpstreamTls | undefined,
): buildConnector.connector {
  const connector = buildConnector(tls ? { timeout, ...tlsConnectOptions(tls) } : { timeout })
  return (options, callback) =>
    connector(options, (...args) => {
      const socket = args[1]
      if (socket) resumePausedParserOnEnd(socket)
      if (tls)
        socket?.on('error', (err: NodeJS.ErrnoException) => {
          if (!err.code?.startsWith('ERR_SSL_')) return
          const key = portsOf(socket)
          alerts.set(key, err)
          setTimeout(() => alerts.delete(key), 5000).unref()
        })
      callback(...args)
    })
}

const CAUSES: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate untrusted (no trusted CA issued it)',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate untrusted (issuer unknown)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate untrusted (issuer unknown)',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate untrusted (self-signed CA not in the trust store)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate untrusted (self-signed)',
  CERT_UNTRUSTED: 'certificate untrusted',
  CERT_SIGNATURE_FAILURE: 'certificate untrusted (bad signature)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate name mismatch',
  CERT_HAS_EXPIRED: 'certificate expired',
  CERT_NOT_YET_VALID: 'certificate not yet valid',
  CERT_REVOKED: 'certificate revoked',
  INVALID_CA: 'certificate untrusted (an issuer is not a CA)',
  PATH_LENGTH_EXCEEDED: 'certificate untrusted (path length constraint exceeded)',
  CERT_CHAIN_TOO_LONG: 'certificate chain longer than tls_verify_depth',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    'handshake refused: the upstream requires a client certificate',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE:
    'handshake refused by the upstream (a client certificate required? no common protocol?)',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA:
    'handshake refused: the upstream does not trust the client certificate',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE:
    'handshake refused: the upstream rejected the client certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    'handshake refused: the upstream says the client certificate expired',
  ERR_SSL_WRONG_VERSION_NUMBER: 'not TLS: the upstream answered in plain text (http?)',
}

/**
 * The cause of a TLS failure, or undefined when `err` is not one. Names the problem and
 * Node's code; never includes a certificate or key.
 *
 * @example
 * ```ts
 * tlsFailureCause({ code: 'CERT_HAS_EXPIRED' }) // 'certificate expired (CERT_HAS_EXPIRED)'
 * ```
 */
export function tlsFailureCause(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 4; i++) {
    const code = typeof e.code === 'string' ? e.code : undefined
    const socket = (e as { socket?: Parameters<typeof portsOf>[0] | null }).socket
    if (code === 'UND_ERR_SOCKET' && socket) {
      const alert = alerts.get(portsOf(socket))
      if (alert) return tlsFailureCause(alert)
    }
    if (code !== undefined) {
      const cause = CAUSES[code]
      if (cause) return `${cause} (${code})`
      if (code.startsWith('ERR_SSL_')) return `TLS handshake failed (${code})`
    }
    e = e.cause as typeof e
  }
  return undefined
}
