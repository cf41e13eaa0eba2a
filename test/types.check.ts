/**
 * Type tests: compiled by `npm run typecheck`, never run. Each `@ts-expect-error` must stay an
 * error, so the public types keep refusing what they refuse today.
 */
import type { Request } from 'express'
import type { FastifyRequest } from 'fastify'
import {
  type ErrorCode,
  KeyError,
  type ResolvedOptions,
  resolveOptions,
  type SignerOptions,
  UpstreamJwtError,
} from '../src/index.js'
import type { upstreamJwt as expressUpstreamJwt } from '../src/verify/adapters/express.js'
import type { VerifiedToken, Verifier, VerifierOptions } from '../src/verify/index.js'
import '../src/verify/adapters/fastify.js'

export const good: SignerOptions = {
  algorithm: 'ES256',
  token_ttl: 30,
  x5c: 'leaf',
  x5c_encoding: 'base64url',
  headers_to_claims: { 'x-request-id': 'rid' },
  claims: { tenant: { id: 1 } },
  issuer: null,
}
// @ts-expect-error misspelt option
export const misspelt: SignerOptions = { algoritm: 'ES256' }
// @ts-expect-error HS256 is not a signing algorithm of this package
export const hmac: SignerOptions = { algorithm: 'HS256' }
// @ts-expect-error token_ttl is a number
export const ttl: SignerOptions = { token_ttl: '60' }

const resolved: ResolvedOptions = resolveOptions({})
export const header: string = resolved.header // has a default: never undefined
// @ts-expect-error issuer has no default: it may be undefined
export const issuer: string = resolved.issuer

export function codeOf(err: unknown): ErrorCode | undefined {
  if (err instanceof UpstreamJwtError) return err.code
  return undefined
}
// @ts-expect-error not an error code of this package
export const notACode: ErrorCode = 'ERR_SOMETHING_ELSE'

// @ts-expect-error `none` is never allowed
export const noneAllowed: VerifierOptions = { ca: 'ca.pem', audience: 'a', algorithms: ['none'] }
// @ts-expect-error audience must be chosen
export const noAudience: VerifierOptions = { ca: 'ca.pem' }
export const anyAudience: VerifierOptions = { ca: 'ca.pem', audience: null }
export const audiences: VerifierOptions = { ca: 'ca.pem', audience: ['orders', 'billing'] }
// @ts-expect-error the adapters take the verifier's options, audience included
export const noAudienceExpress: Parameters<typeof expressUpstreamJwt>[0] = { ca: 'ca.pem' }
export const sharedVerifier = (verifier: Verifier): Parameters<typeof expressUpstreamJwt>[0] => ({
  verifier,
})

export const expressToken = (req: Request): VerifiedToken | undefined => req.upstreamJwt
export const fastifyToken = (req: FastifyRequest): VerifiedToken | null => req.upstreamJwt

export const sigMode: SignerOptions = { signature_mode: 'both', signature_label: 'gw' }
// @ts-expect-error draft-cavage signatures are not offered
export const cavage: SignerOptions = { signature_mode: 'cavage' }
// An HTTP Message Signature has no aud: audience may be left out in that mode only.
export const verifySig: VerifierOptions = { pinned: ['cert.pem'], signatureMode: 'http-signature' }
// @ts-expect-error in both mode the JWT's audience must be chosen
export const bothNoAudience: VerifierOptions = { ca: 'ca.pem', signatureMode: 'both' }
export const coverageCode: ErrorCode = 'ERR_COMPONENT_NOT_COVERED'
// ERR_INTERNAL goes on the wire (middleware, Kong plugin, CLI), so it is a code of the union.
export const internal: ErrorCode = 'ERR_INTERNAL'
// @ts-expect-error a KeyError cannot carry a verifier's code: each code has one class
export const wrongClass = new KeyError('ERR_CERT_UNTRUSTED', 'm')
