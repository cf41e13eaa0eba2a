import type { X509Certificate } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Algorithm } from '../src/core/algorithms.js'
import {
  type GeneratedKeyPair,
  generateKeyPair,
  issueCertificate,
  privateKeyPem,
} from '../src/keygen/certificates.js'
import { specFor } from './keys.js'

export interface Issued {
  readonly keys: GeneratedKeyPair
  readonly cert: X509Certificate
}

/** A root CA, an intermediate CA and a gateway leaf, written as files for signer and verifier. */
export interface Pki {
  readonly root: Issued
  readonly intermediate: Issued
  readonly leaf: Issued
  readonly files: { readonly key: string; readonly chain: string; readonly rootPem: string }
}

export async function issue(
  subject: string,
  alg: Algorithm,
  issuer?: Issued,
  extra: {
    ca?: boolean
    pathLength?: number
    notBefore?: Date
    notAfter?: Date
    keyUsage?: number | null
    altNames?: readonly string[]
  } = {},
): Promise<Issued> {
  const keys = await generateKeyPair(specFor(alg))
  const cert = await issueCertificate({
    subject,
    keys,
    ...(issuer ? { issuer: { certificate: issuer.cert, keys: issuer.keys } } : {}),
    ...extra,
  })
  return { keys, cert }
}

export async function writeChain(dir: string, name: string, leaf: Issued, ...issuers: Issued[]) {
  const key = join(dir, `${name}.key.pem`)
  const chain = join(dir, `${name}.chain.pem`)
  await writeFile(key, privateKeyPem(leaf.keys), { mode: 0o600 })
  await writeFile(chain, [leaf, ...issuers].map((i) => i.cert.toString()).join(''))
  return { key, chain }
}

export async function makePki(dir: string, leafAlg: Algorithm = 'ES256'): Promise<Pki> {
  const root = await issue('Test Root CA', 'RS256', undefined, { ca: true })
  const intermediate = await issue('Test Intermediate CA', 'ES256', root, {
    ca: true,
    pathLength: 0,
  })
  const leaf = await issue('gateway', leafAlg, intermediate)
  const { key, chain } = await writeChain(dir, 'gateway', leaf, intermediate)
  const rootPem = join(dir, 'root.pem')
  await writeFile(rootPem, root.cert.toString())
  return { root, intermediate, leaf, files: { key, chain, rootPem } }
}
