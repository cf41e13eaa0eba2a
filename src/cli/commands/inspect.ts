import { decodeToken, decodeX5c } from '../../verify/decode.js'
import { type CliIo, readInputFile, readText } from '../io.js'
import { UsageError } from '../parse.js'

const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf'])

function relative(seconds: number, now: number): string {
  const delta = Math.round(seconds - now / 1000)
  const abs = Math.abs(delta)
  const span =
    abs < 120
      ? `${abs} s`
      : abs < 7200
        ? `${Math.round(abs / 60)} min`
        : `${Math.round(abs / 3600)} h`
  return delta >= 0 ? `in ${span}` : `${span} ago`
}

function certificatesOf(header: Record<string, unknown>) {
  if (header.x5c === undefined) return []
  const legacy =
    Array.isArray(header.x5c) && header.x5c.some((e) => typeof e === 'string' && /[-_]/.test(e))
  return decodeX5c(header.x5c, { legacy }).map((cert) => ({
    subject: cert.subject.replaceAll('\n', ', '),
    issuer: cert.issuer.replaceAll('\n', ', '),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    fingerprint256: cert.fingerprint256,
    ca: cert.ca,
    encoding: legacy ? 'base64url (legacy, not RFC 7515)' : 'base64',
  }))
}

/** `inspect`: decodes a token for a person to read, and says loudly that nothing was verified. */
export async function inspectCommand(
  token: string | undefined,
  tokenFile: string | undefined,
  json: boolean,
  io: CliIo,
  now: number = Date.now(),
): Promise<number> {
  let text: string
  if (token !== undefined) text = token
  else if (tokenFile !== undefined) text = await readInputFile('--token-file', tokenFile)
  else if (io.stdin.isTTY)
    throw new UsageError(
      'no token: give it as an argument, with --token-file FILE, or on standard input',
    )
  else text = await readText(io.stdin)
  const decoded = decodeToken(text)
  const certificates = certificatesOf(decoded.header)
  if (json) {
    const { header, claims } = decoded
    io.stdout.write(
      `${JSON.stringify({ verified: false, header, claims, certificates }, null, 2)}\n`,
    )
    return 0
  }
  const lines = [
    'UNVERIFIED: decoded only; neither the signature nor any claim has been checked.',
    '',
    'Header',
  ]
  for (const [name, value] of Object.entries(decoded.header)) {
    if (name === 'x5c' && Array.isArray(value))
      lines.push(`  x5c: ${value.length} certificate(s), below`)
    else lines.push(`  ${name}: ${JSON.stringify(value)}`)
  }
  lines.push('', 'Claims')
  for (const [name, value] of Object.entries(decoded.claims)) {
    const when =
      TIME_CLAIMS.has(name) && typeof value === 'number'
        ? ` (${new Date(value * 1000).toISOString()}, ${relative(value, now)})`
        : ''
    lines.push(`  ${name}: ${JSON.stringify(value)}${when}`)
  }
  certificates.forEach((c, i) => {
    lines.push(
      '',
      `Certificate x5c[${i}]${c.ca ? ' (CA)' : ''}`,
      `  subject:  ${c.subject}`,
      `  issuer:   ${c.issuer}`,
      `  valid:    ${c.validFrom} to ${c.validTo}`,
      `  sha256:   ${c.fingerprint256}`,
      `  encoding: ${c.encoding}`,
    )
  })
  io.stdout.write(`${lines.join('\n')}\n`)
  return 0
}
