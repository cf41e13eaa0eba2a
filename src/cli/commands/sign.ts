import { createReadStream } from 'node:fs'
import { type BodyDigest, digestStream } from '../../core/body-digest.js'
import type { SignerOptions } from '../../options/table.js'
import type { RequestFacts } from '../../signer/facts.js'
import { createSigner } from '../../signer/signer.js'
import { assertReadable, type CliIo } from '../io.js'
import { type RequestInput, UsageError } from '../parse.js'

/**
 * The key and certificate files given as flags must be readable (usage error otherwise); a
 * location the environment overrides is not the one used, so it is not checked.
 */
export async function assertKeyFilesReadable(options: SignerOptions, io: CliIo): Promise<void> {
  if (options.private_key_location && !io.env.KONG_SSL_CERT_KEY)
    await assertReadable('--key', options.private_key_location)
  if (options.public_key_location && !io.env.KONG_SSL_CERT_DER)
    await assertReadable('--cert', options.public_key_location)
}

async function readBody(input: RequestInput, io: CliIo): Promise<BodyDigest | undefined> {
  if (input.bodyFile === '-') return digestStream(io.stdin)
  if (input.bodyFile !== undefined) return digestStream(createReadStream(input.bodyFile))
  // No --body-file: a piped standard input is the body; a terminal means no body.
  return io.stdin.isTTY ? undefined : digestStream(io.stdin)
}

/** Turns the command line's description of a request into the signer's `RequestFacts`. */
export function requestFacts(input: RequestInput, body: BodyDigest | undefined): RequestFacts {
  let url: URL | undefined
  if (input.url !== undefined) {
    try {
      url = new URL(input.url)
    } catch {
      throw new UsageError(`--url is not an absolute URL: ${input.url}`)
    }
  }
  const consumer =
    (input.consumerId ?? input.consumerName ?? input.consumerCustomId)
      ? { id: input.consumerId, username: input.consumerName, custom_id: input.consumerCustomId }
      : undefined
  return {
    method: input.method?.toUpperCase() ?? (url ? 'GET' : undefined),
    scheme: url?.protocol.slice(0, -1),
    host: url?.host,
    path: url?.pathname,
    query: url ? url.search.slice(1) : undefined,
    body,
    service: input.service !== undefined ? { name: input.service } : undefined,
    consumer,
    headers: input.headers,
  }
}

/**
 * `sign`: prints the header value for one request; with `--signature-mode http-signature` or
 * `both`, every header as a `Name: value` line.
 */
export async function signCommand(
  options: SignerOptions,
  input: RequestInput,
  json: boolean,
  io: CliIo,
): Promise<number> {
  await assertKeyFilesReadable(options, io)
  if (input.bodyFile !== undefined && input.bodyFile !== '-')
    await assertReadable('--body-file', input.bodyFile)
  const signer = await createSigner({ key_reload_interval: 0, ...options }, { env: io.env })
  try {
    const facts = requestFacts(input, await readBody(input, io))
    if (signer.signatureMode !== 'jwt') {
      const signed = await signer.signRequest(facts)
      if (json) {
        const { token, httpSignature } = signed
        io.stdout.write(
          `${JSON.stringify({ headers: signed.headers, ...(token ? { kid: token.kid, claims: token.claims } : {}), base: httpSignature?.base }, null, 2)}\n`,
        )
      } else {
        const lines = Object.entries(signed.headers).map(([name, value]) => `${name}: ${value}`)
        io.stdout.write(`${lines.join('\n')}\n`)
      }
      return 0
    }
    const issued = await signer.issue(facts)
    if (json) {
      const { value, token, claims, kid } = issued
      io.stdout.write(
        `${JSON.stringify({ header: signer.headerName, value, token, kid, claims }, null, 2)}\n`,
      )
    } else {
      io.stdout.write(`${issued.value}\n`)
    }
    return 0
  } finally {
    signer.close()
  }
}
