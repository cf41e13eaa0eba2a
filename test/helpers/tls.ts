import { connect } from 'node:tls'
import { privateKeyPem } from '../../src/keygen/certificates.js'
import { type Issued, issue } from '../../testing/pki.js'

/** PEM text of a certificate (with its issuers) and its key. */
export interface PemPair {
  readonly cert: string
  readonly key: string
}

export function pem(leaf: Issued, ...issuers: Issued[]): PemPair {
  return {
    cert: [leaf, ...issuers].map((i) => i.cert.toString()).join(''),
    key: privateKeyPem(leaf.keys),
  }
}

/**
 * A private PKI made at test time for TLS tests: a root CA, certificates for 127.0.0.1 and
 * `localhost`, one for another name, an expired one, one from a CA nobody trusts, and a
 * client certificate.
 */
export interface TlsPki {
  readonly root: Issued
  readonly caPem: string
  readonly otherCaPem: string
  readonly server: PemPair
  readonly wrongName: PemPair
  readonly expired: PemPair
  readonly untrusted: PemPair
  readonly client: PemPair
  /** For the HTTPS listener: one per name, and a default. */
  readonly siteA: PemPair
  readonly siteB: PemPair
  readonly listenerDefault: PemPair
}

export async function makeTlsPki(): Promise<TlsPki> {
  const root = await issue('Private Test Root CA', 'ES256', undefined, { ca: true })
  const other = await issue('Some Other CA', 'ES256', undefined, { ca: true })
  const leaf = (cn: string, names: string[], issuer = root, extra = {}) =>
    issue(cn, 'ES256', issuer, { altNames: names, ...extra })
  const [server, wrongName, expired, untrusted, client, siteA, siteB, listenerDefault] =
    await Promise.all([
      leaf('upstream', ['127.0.0.1', 'localhost', 'api.test']),
      leaf('elsewhere', ['elsewhere.test']),
      leaf('upstream', ['127.0.0.1', 'localhost'], root, {
        notBefore: new Date(Date.now() - 3 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
      }),
      leaf('upstream', ['127.0.0.1', 'localhost'], other),
      leaf('gateway-client', ['gateway.test']),
      leaf('a.example.test', ['a.example.test']),
      leaf('wild', ['*.b.example.test']),
      leaf('default.test', ['default.test']),
    ])
  return {
    root,
    caPem: root.cert.toString(),
    otherCaPem: other.cert.toString(),
    server: pem(server),
    wrongName: pem(wrongName),
    expired: pem(expired),
    untrusted: pem(untrusted),
    client: pem(client),
    siteA: pem(siteA),
    siteB: pem(siteB),
    listenerDefault: pem(listenerDefault),
  }
}

/** The subject CN of the certificate the listener serves for `servername` (none: no SNI). */
export function servedCn(url: string, ca: string, servername?: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: hostname, port: Number(port), ca, servername, rejectUnauthorized: false },
      () => {
        const cn = socket.getPeerCertificate().subject.CN
        socket.end()
        resolve(String(cn))
      },
    )
    socket.on('error', reject)
  })
}
