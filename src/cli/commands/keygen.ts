import { type KeygenOptions, keygen } from '../../keygen/keygen.js'
import type { CliIo } from '../io.js'

/** `keygen`: writes the key files and says what they are for. */
export async function keygenCommand(
  options: KeygenOptions,
  json: boolean,
  io: CliIo,
): Promise<number> {
  const files = await keygen(options)
  if (json) {
    io.stdout.write(`${JSON.stringify(files, null, 2)}\n`)
    return 0
  }
  const lines = [
    `wrote ${files.key} (private key, mode 0600)`,
    `wrote ${files.certDer} (certificate, DER: public_key_location / KONG_SSL_CERT_DER)`,
    `wrote ${files.certPem} (certificate, PEM)`,
    `wrote ${files.chain} (chain, leaf first)`,
  ]
  if (files.caCert) lines.push(`wrote ${files.caCert} (CA certificate: the upstreams' truststore)`)
  if (files.caKey) lines.push(`wrote ${files.caKey} (CA private key, mode 0600)`)
  lines.push(`algorithm for this key: ${files.algorithm}`)
  io.stdout.write(`${lines.join('\n')}\n`)
  return 0
}
