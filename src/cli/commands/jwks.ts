import type { SignerOptions } from '../../options/table.js'
import { createSigner } from '../../signer/signer.js'
import type { CliIo } from '../io.js'
import { assertKeyFilesReadable } from './sign.js'

/** `jwks`: the public JWK Set of a key and certificate, for verifiers that pin keys. */
export async function jwksCommand(options: SignerOptions, io: CliIo): Promise<number> {
  await assertKeyFilesReadable(options, io)
  const signer = await createSigner({ key_reload_interval: 0, ...options }, { env: io.env })
  io.stdout.write(`${JSON.stringify(signer.jwks(), null, 2)}\n`)
  signer.close()
  return 0
}
