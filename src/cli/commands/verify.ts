import { createReadStream } from 'node:fs'
import { UpstreamJwtError } from '../../core/errors.js'
import { decodeToken } from '../../verify/decode.js'
import { createVerifier } from '../../verify/verifier.js'
import { assertReadable, type CliIo, readInputFile, readText } from '../io.js'
import { UsageError, type VerifyInput } from '../parse.js'

/** The checks in the order the verifier makes them, and the codes that stop at each. */
const CHECKS: readonly { readonly name: string; readonly codes: readonly string[] }[] = [
  { name: 'token format', codes: ['ERR_TOKEN_MISSING', 'ERR_TOKEN_MALFORMED'] },
  { name: 'algorithm allowed', codes: ['ERR_ALG_NOT_ALLOWED'] },
  {
    name: 'trusted key (x5c chain, pin or JWKS)',
    codes: [
      'ERR_CERT_UNTRUSTED',
      'ERR_CERT_EXPIRED',
      'ERR_CERT_NOT_YET_VALID',
      'ERR_JWKS_UNAVAILABLE',
    ],
  },
  { name: 'signature', codes: ['ERR_SIGNATURE_INVALID'] },
  {
    name: 'claims (exp, nbf, iat, iss, aud, jti)',
    codes: ['ERR_TOKEN_EXPIRED', 'ERR_TOKEN_NOT_YET_VALID', 'ERR_CLAIM_INVALID'],
  },
  { name: 'body hash (payloadhash)', codes: ['ERR_BODY_HASH_MISMATCH', 'ERR_BODY_READ'] },
  { name: 'request binding (htm, htu, htq)', codes: ['ERR_BINDING_MISMATCH'] },
]

/** The checks of an HTTP Message Signature (RFC 9421), after the JWT's in `both` mode. */
const SIGNATURE_CHECKS: typeof CHECKS = [
  {
    name: 'HTTP Message Signature present (label, tag)',
    codes: ['ERR_TOKEN_MISSING', 'ERR_TOKEN_MALFORMED', 'ERR_CLAIM_INVALID'],
  },
  { name: 'covered components', codes: ['ERR_COMPONENT_NOT_COVERED'] },
  { name: 'created / expires', codes: ['ERR_TOKEN_EXPIRED', 'ERR_TOKEN_NOT_YET_VALID'] },
  {
    name: 'key by keyid and algorithm',
    codes: [
      'ERR_CERT_UNTRUSTED',
      'ERR_CERT_EXPIRED',
      'ERR_JWKS_UNAVAILABLE',
      'ERR_ALG_NOT_ALLOWED',
    ],
  },
  { name: 'signature', codes: ['ERR_SIGNATURE_INVALID'] },
  { name: 'Content-Digest against the body', codes: ['ERR_BODY_HASH_MISMATCH'] },
]

const SIGNATURE_CLAIMS = new Set([
  'tag',
  'created',
  'expires',
  'keyid',
  'nonce',
  'alg',
  'content-digest',
])

function stepsFor(mode: VerifyInput['signatureMode']): typeof CHECKS {
  if (mode === 'jwt') return CHECKS
  if (mode === 'http-signature') return SIGNATURE_CHECKS
  return [...CHECKS, ...SIGNATURE_CHECKS.map((c) => ({ ...c, name: `${c.name} [signature]` }))]
}

function failedSignatureStep(code: string): number {
  const index = SIGNATURE_CHECKS.findIndex((c) => c.codes.includes(code))
  return index === -1 ? 0 : index
}

function failedStepIn(
  mode: VerifyInput['signatureMode'],
  code: string,
  claim: string | undefined,
  signaturePart: boolean,
): number {
  if (mode === 'http-signature') return failedSignatureStep(code)
  if (mode === 'both' && signaturePart) return CHECKS.length + failedSignatureStep(code)
  return failedStep(code, claim)
}

function failedStep(code: string, claim: string | undefined): number {
  if (code === 'ERR_CLAIM_INVALID' && claim === 'payloadhash') return 5
  if (code === 'ERR_CLAIM_INVALID' && claim === 'typ') return 0
  const index = CHECKS.findIndex((c) => c.codes.includes(code))
  return index === -1 ? 0 : index
}

const HOW_TO_GIVE_A_TOKEN =
  'give it with --token TOKEN, --token-file FILE, or on standard input (e.g. echo "$TOKEN" | kong-upstream-jwt verify ...)'

/** The token text from --token, --token-file or standard input; none is a usage error. */
async function tokenText(input: VerifyInput, io: CliIo): Promise<string> {
  let text: string
  if (input.token !== undefined) text = input.token
  else if (input.tokenFile !== undefined)
    text = await readInputFile('--token-file', input.tokenFile)
  else if (io.stdin.isTTY) throw new UsageError(`no token: ${HOW_TO_GIVE_A_TOKEN}`)
  else text = await readText(io.stdin)
  if (text.trim() === '') {
    const where =
      input.token !== undefined
        ? '--token is empty'
        : input.tokenFile !== undefined
          ? `--token-file ${input.tokenFile} is empty`
          : 'standard input was empty'
    throw new UsageError(`no token (${where}): ${HOW_TO_GIVE_A_TOKEN}`)
  }
  return text.trim()
}

/** What the report says was not checked because the command line did not ask for it. */
function warningsFor(input: VerifyInput): string[] {
  // An HTTP Message Signature has no audience: the signed target URI names the upstream.
  return input.audience === undefined && input.signatureMode !== 'http-signature'
    ? [
        'audience not checked (no --audience): a token minted for any service behind the gateway passes; give --audience with the service name an upstream would expect',
      ]
    : []
}

/** `verify`: checks a token as an upstream would; exit 0 only when valid. */
export async function verifyCommand(input: VerifyInput, json: boolean, io: CliIo): Promise<number> {
  // Every input file is checked first: one that cannot be read is a usage error naming it.
  for (const file of input.ca) await assertReadable('--ca', file)
  for (const file of input.cert) await assertReadable('--cert', file)
  if (input.jwks !== undefined && !/^https?:\/\//i.test(input.jwks))
    await assertReadable('--jwks', input.jwks)
  if (input.bodyFile !== undefined && input.bodyFile !== '-')
    await assertReadable('--body-file', input.bodyFile)
  const mode = input.signatureMode
  // In http-signature mode there is no token; a JWT given with --header serves as the token.
  const text =
    mode === 'http-signature'
      ? ''
      : input.headers.jwt !== undefined &&
          input.token === undefined &&
          input.tokenFile === undefined
        ? input.headers.jwt
        : await tokenText(input, io)
  const warnings = warningsFor(input)
  const body =
    input.bodyFile === '-'
      ? io.stdin
      : input.bodyFile !== undefined
        ? createReadStream(input.bodyFile)
        : undefined
  const verifier = createVerifier({
    ...(input.ca.length ? { ca: input.ca } : {}),
    ...(input.cert.length ? { pinned: input.cert } : {}),
    ...(input.jwks !== undefined ? { jwks: input.jwks } : {}),
    issuer: input.issuer,
    // The CLI is a diagnostic tool: without --audience it checks the rest and says so (warnings).
    audience: input.audience ?? null,
    clockTolerance: input.clockTolerance,
    maxTokenAge: input.maxTokenAge,
    legacyX5c: input.legacyX5c,
    requireBinding: input.requireBinding,
    payloadHash: input.payloadHash,
    replay: false,
    signatureMode: mode,
    signatureLabel: input.signatureLabel,
    signatureTag: input.signatureTag,
  })
  const steps = stepsFor(mode)
  try {
    const result = await verifier.verify({
      headers: { ...input.headers, ...(mode === 'http-signature' ? {} : { jwt: text.trim() }) },
      method: input.method,
      url: input.url,
      body,
    })
    const signature = result.httpSignature
    if (json) {
      io.stdout.write(
        `${JSON.stringify({ valid: true, claims: result.claims, ...(signature ? { signature } : {}), warnings })}\n`,
      )
    } else {
      const lines = steps.map((c) => `  pass  ${c.name}`)
      for (const w of warnings) lines.push(`  WARN  ${w}`)
      if (mode !== 'http-signature') lines.push(`  claims: ${JSON.stringify(result.claims)}`)
      if (signature) lines.push(`  signature: ${JSON.stringify(signature)}`)
      io.stdout.write(`VALID\n${lines.join('\n')}\n`)
    }
    return 0
  } catch (err) {
    if (!(err instanceof UpstreamJwtError)) throw err
    if (err.code === 'ERR_BODY_READ' && input.bodyFile !== undefined) {
      // The file went away or failed mid-read: still a problem with the input, not the token.
      const file = input.bodyFile === '-' ? 'standard input' : input.bodyFile
      const cause = (err.cause as { code?: string } | undefined)?.code ?? err.message
      throw new UsageError(`--body-file ${file}: could not be read (${cause})`)
    }
    const claim = (err as { claim?: string }).claim
    let claims: Record<string, unknown> | undefined
    try {
      claims = mode === 'http-signature' ? undefined : decodeToken(text).claims
    } catch {
      claims = undefined
    }
    if (json) {
      io.stdout.write(
        `${JSON.stringify({ valid: false, code: err.code, message: err.message, ...(claims ? { claims } : {}), warnings })}\n`,
      )
    } else {
      const signaturePart =
        (claim !== undefined && SIGNATURE_CLAIMS.has(claim)) ||
        err.code === 'ERR_COMPONENT_NOT_COVERED' ||
        / (HTTP Message Signature|Signature-Input|signature labelled)/.test(err.message)
      const failed = failedStepIn(mode, err.code, claim, signaturePart)
      const lines = steps.map((c, i) =>
        i < failed
          ? `  pass  ${c.name}`
          : i === failed
            ? `  FAIL  ${c.name}: ${err.code}: ${err.message}`
            : `  ----  ${c.name} (not checked)`,
      )
      for (const w of warnings) lines.push(`  WARN  ${w}`)
      io.stdout.write(`INVALID\n${lines.join('\n')}\n`)
    }
    return 1
  } finally {
    await verifier.close()
  }
}
