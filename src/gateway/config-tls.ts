/**
 * Kong's TLS entities in a declarative configuration: top-level `ca_certificates`,
 * `certificates` (with nested `snis`) and `snis`, and the service fields that use them
 * (`tls_verify`, `tls_verify_depth`, `ca_certificates`, `client_certificate`).
 * Certificates and keys are parsed and paired here, so a bad one refuses the configuration
 * with the entity's id; messages never contain a certificate or key body.
 * @module
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'
import { bool, fail, known, list, object, type Raw, str, strings } from './config-fields.js'

/** A `ca_certificates` entity: one CA certificate (PEM) services may trust. */
export interface CaCertificateEntry {
  readonly id: string
  readonly cert: string
}

/** A `certificates` entity: a certificate (chain) and its key, and the names it serves. */
export interface CertificateEntry {
  readonly id: string
  readonly cert: string
  readonly key: string
  readonly cert_alt: string | undefined
  readonly key_alt: string | undefined
  /** Server names (Kong's `snis`): exact, `*.example.com` or `example.*`. Lower case. */
  readonly snis: readonly string[]
}

/** The TLS entities of a configuration, by id. */
export interface TlsEntities {
  readonly certificates: ReadonlyMap<string, CertificateEntry>
  readonly caCertificates: ReadonlyMap<string, CaCertificateEntry>
}

/** How the gateway connects to an https service: resolved from the service's Kong fields. */
export interface UpstreamTls {
  /** `tls_verify`; default true (Kong's default is off: `proxy_ssl_verify`). */
  readonly verify: boolean
  /** `tls_verify_depth`: most intermediate CAs allowed between the leaf and the anchor. */
  readonly depth: number | undefined
  /** PEMs of `ca_certificates`; empty: the system's trust store. */
  readonly ca: readonly string[]
  /** The `client_certificate` presented to the upstream. */
  readonly client: CertificateEntry | undefined
  /** Identifies these settings, so a reload with other material opens new connections. */
  readonly fingerprint: string
}

export const TLS_SERVICE_FIELDS = [
  'tls_verify',
  'tls_verify_depth',
  'ca_certificates',
  'client_certificate',
] as const
const CA = ['id', 'cert', 'cert_digest', 'tags']
const CERT = ['id', 'cert', 'key', 'cert_alt', 'key_alt', 'tags', 'snis']
const SNI = ['id', 'name', 'tags', 'certificate']
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

function certificates(pem: string, where: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? fail(`${where}: "cert" is not a PEM certificate`)
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b)
    } catch {
      return fail(`${where}: certificate ${i + 1} of "cert" cannot be parsed`)
    }
  })
}

function pairedKey(cert: X509Certificate, pem: string, where: string, field: string): void {
  let key: ReturnType<typeof createPrivateKey>
  try {
    key = createPrivateKey(pem)
  } catch {
    fail(`${where}: "${field}" is not a PEM private key (or is encrypted)`)
  }
  if (!cert.checkPrivateKey(key))
    fail(`${where}: certificate does not match key ("${field}" belongs to another certificate)`)
}

/** Kong's wildcard_host: a host name with at most one `*`, leftmost or rightmost, no IP, no port. */
function sniName(name: string, where: string): string {
  const star = name.indexOf('*')
  if (star !== -1 && star !== 0 && star !== name.length - 1)
    fail(`${where}: SNI "${name}": wildcard must be leftmost or rightmost character`)
  if (name.indexOf('*', star + 1) !== -1 && star !== -1)
    fail(`${where}: SNI "${name}": only one wildcard must be specified`)
  if (isIP(name)) fail(`${where}: SNI "${name}" must not be an IP`)
  if (/:\d+$/.test(name)) fail(`${where}: SNI "${name}" must not have a port`)
  if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(\.\*)?$|^\*\.[a-z0-9-]+$/i.test(name))
    fail(`${where}: SNI "${name}" is not a host name`)
  return name.toLowerCase()
}

function caCertificate(value: unknown, index: number): CaCertificateEntry {
  const raw = object(value, `ca_certificates[${index}]`)
  const id = str(raw, 'id', `ca_certificates[${index}]`)
  const where = `ca_certificate ${id ?? `[${index}]`}`
  known(raw, CA, where)
  if (id === undefined) fail(`${where}: "id" is required (services name it in ca_certificates)`)
  const cert = str(raw, 'cert', where) ?? fail(`${where}: "cert" is required`)
  const parsed = certificates(cert, where)
  // Kong's own checks on this entity (ca_certificates.lua).
  if (parsed.length > 1) fail(`${where}: please submit only one certificate at a time`)
  const ca = parsed[0]!
  if (Date.parse(ca.validTo) < Date.now())
    fail(`${where}: certificate expired, "Not After" time is in the past`)
  if (!ca.ca)
    fail(
      `${where}: certificate does not appear to be a CA because it is missing the "CA" basic constraint`,
    )
  return { id, cert }
}

function certificate(value: unknown, index: number): CertificateEntry {
  const raw = object(value, `certificates[${index}]`)
  const id = str(raw, 'id', `certificates[${index}]`)
  const where = `certificate ${id ?? `[${index}]`}`
  known(raw, CERT, where)
  if (id === undefined) fail(`${where}: "id" is required (services and snis name it)`)
  const cert = str(raw, 'cert', where) ?? fail(`${where}: "cert" is required`)
  const key = str(raw, 'key', where) ?? fail(`${where}: "key" is required`)
  const leaf = certificates(cert, where)[0]!
  pairedKey(leaf, key, where, 'key')
  const certAlt = str(raw, 'cert_alt', where)
  const keyAlt = str(raw, 'key_alt', where)
  if ((certAlt === undefined) !== (keyAlt === undefined))
    fail(`${where}: "cert_alt" and "key_alt" go together`)
  if (certAlt !== undefined && keyAlt !== undefined) {
    const alt = certificates(certAlt, where)[0]!
    pairedKey(alt, keyAlt, where, 'key_alt')
    if (alt.publicKey.asymmetricKeyType === leaf.publicKey.asymmetricKeyType)
      fail(
        `${where}: certificate and alternative certificate need to have different type (e.g. RSA and ECDSA)`,
      )
  }
  // Kong's declarative format nests snis as entities ({ name }), not as the Admin API's strings.
  const snis = list(raw.snis, `${where}: "snis"`).map((s, i) => {
    if (typeof s === 'string')
      fail(`${where}: snis[${i}] must be a mapping { name: ... } (Kong's declarative format)`)
    const sni = object(s, `${where}: snis[${i}]`)
    known(sni, SNI, `${where}: snis[${i}]`)
    if (sni.certificate !== undefined)
      fail(`${where}: snis[${i}] is nested, so it must not name a "certificate"`)
    return sniName(str(sni, 'name', where) ?? fail(`${where}: snis[${i}] needs a "name"`), where)
  })
  return { id, cert, key, cert_alt: certAlt, key_alt: keyAlt, snis }
}

function reference(raw: Raw, key: string, where: string): string | undefined {
  const v = raw[key]
  if (v === undefined || v === null) return undefined
  if (typeof v === 'string' && v !== '') return v
  const o = object(v, `${where}: "${key}"`)
  return str(o, 'id', where) ?? fail(`${where}: "${key}" must be { id: ... }`)
}

/**
 * Reads the top-level `ca_certificates`, `certificates` and `snis` of a configuration.
 *
 * @throws {GatewayConfigError} naming the entity (by id) and the field at fault
 */
export function parseTlsEntities(raw: Raw): TlsEntities {
  const caCertificates = new Map<string, CaCertificateEntry>()
  list(raw.ca_certificates, '"ca_certificates"').forEach((v, i) => {
    const ca = caCertificate(v, i)
    if (caCertificates.has(ca.id)) fail(`ca_certificate ${ca.id}: defined twice`)
    caCertificates.set(ca.id, ca)
  })
  const certs = new Map<string, CertificateEntry & { snis: string[] }>()
  list(raw.certificates, '"certificates"').forEach((v, i) => {
    const c = certificate(v, i)
    if (certs.has(c.id)) fail(`certificate ${c.id}: defined twice`)
    certs.set(c.id, { ...c, snis: [...c.snis] })
  })
  list(raw.snis, '"snis"').forEach((v, i) => {
    const sni = object(v, `snis[${i}]`)
    const where = `sni ${typeof sni.name === 'string' ? sni.name : `[${i}]`}`
    known(sni, SNI, where)
    const name = sniName(str(sni, 'name', where) ?? fail(`${where}: "name" is required`), where)
    const id = reference(sni, 'certificate', where) ?? fail(`${where}: "certificate" is required`)
    const cert = certs.get(id) ?? fail(`${where}: certificate "${id}" is not defined`)
    cert.snis.push(name)
  })
  const seen = new Map<string, string>()
  for (const c of certs.values()) {
    for (const name of c.snis) {
      const other = seen.get(name)
      if (other !== undefined)
        fail(`certificate ${c.id}: SNI "${name}" is already served by certificate ${other}`)
      seen.set(name, c.id)
    }
  }
  return { certificates: certs, caCertificates }
}

/**
 * Reads a service's TLS fields and resolves the entities they name. Kong allows them only
 * with protocol https; here too.
 *
 * @throws {GatewayConfigError}
 */
export function serviceTls(
  raw: Raw,
  where: string,
  protocol: string,
  entities: TlsEntities,
): UpstreamTls | undefined {
  const given = TLS_SERVICE_FIELDS.filter((f) => raw[f] !== undefined && raw[f] !== null)
  if (protocol !== 'https') {
    if (given.length > 0) fail(`${where}: "${given[0]}" applies only to protocol https`)
    return undefined
  }
  const verify = bool(raw, 'tls_verify', where, true)
  const rawDepth = raw.tls_verify_depth
  if (
    rawDepth !== undefined &&
    rawDepth !== null &&
    (typeof rawDepth !== 'number' || !Number.isInteger(rawDepth) || rawDepth < 0 || rawDepth > 64)
  )
    fail(`${where}: "tls_verify_depth" must be an integer between 0 and 64`)
  const caIds = strings(raw, 'ca_certificates', where)
  const ca = caIds.map(
    (id) =>
      (
        entities.caCertificates.get(id) ??
        fail(`${where}: ca_certificate "${id}" is not defined (top-level "ca_certificates")`)
      ).cert,
  )
  const clientId = reference(raw, 'client_certificate', where)
  const client =
    clientId === undefined
      ? undefined
      : (entities.certificates.get(clientId) ??
        fail(`${where}: certificate "${clientId}" is not defined (top-level "certificates")`))
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([verify, rawDepth ?? null, ca, client?.cert, client?.key]))
    .digest('base64url')
  return {
    verify,
    depth: typeof rawDepth === 'number' ? rawDepth : undefined,
    ca,
    client,
    fingerprint,
  }
}
