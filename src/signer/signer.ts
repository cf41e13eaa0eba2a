import { randomUUID } from 'node:crypto'
import { KeyError, SigningError } from '../core/errors.js'
import { type ResolveContext, resolveOptions } from '../options/resolve.js'
import type { SignerOptions } from '../options/table.js'
import { buildClaims, type UpstreamClaims } from './claims.js'
import type { RequestFacts } from './facts.js'
import { type HttpSignatureHeaders, signHttpMessage } from './http-signature.js'
import {
  encodeJson,
  type SignOn,
  signCompact,
  signCompactCallback,
  signCompactSync,
} from './jws.js'
import { type ActiveKey, KeyStore, type PublicJwk, type SignerLogger } from './key-store.js'

/** What `createSigner` needs besides the options. */
export interface SignerContext extends ResolveContext {
  /** Receives key reloads, warnings (certificate about to expire) and refused reloads. */
  readonly logger?: SignerLogger | undefined
  /** Current time in ms; default `Date.now`. */
  readonly clock?: (() => number) | undefined
  /**
   * Where the callback form used by the gateway signs (`SignOn`); default `auto`: on the
   * event loop for ES256 and Ed25519, on the thread pool for the others.
   */
  readonly signOn?: SignOn | undefined
}

/** One signed token with what an access log or a test wants to know about it. */
export interface IssuedToken {
  /** The header value to set: the token, prefixed `Bearer ` when configured. */
  readonly value: string
  /** The compact JWS alone. */
  readonly token: string
  readonly claims: UpstreamClaims
  /** The `kid` of the key that signed (the configured one, or the thumbprint). */
  readonly kid: string
}

/** Every header a request gets for the configured `signature_mode`, and what was signed. */
export interface SignedRequest {
  /**
   * Header name → value to set on the forwarded request: the JWT header (modes `jwt`, `both`);
   * `Content-Digest`, `Signature-Input` and `Signature` (modes `http-signature`, `both`).
   */
  readonly headers: Readonly<Record<string, string>>
  /** The token, in modes `jwt` and `both`. */
  readonly token?: IssuedToken | undefined
  /** The HTTP Message Signature, in modes `http-signature` and `both`. */
  readonly httpSignature?: (HttpSignatureHeaders & { readonly nonce: string }) | undefined
}

/** A JSON Web Key Set (RFC 7517 §5). */
export interface JsonWebKeySet {
  readonly keys: readonly PublicJwk[]
}

/** Signs requests. Create one per configuration and reuse it: keys are parsed once. */
export interface Signer {
  /** The request header the token goes into (option `header`). */
  readonly headerName: string
  /** Signs on the crypto thread pool; resolves the header value. */
  sign(facts?: RequestFacts): Promise<string>
  /** Signs on the calling thread (blocks about 1 ms for RSA-2048); returns the header value. */
  signSync(facts?: RequestFacts): string
  /** Like `sign`, with the token's claims and kid. */
  issue(facts?: RequestFacts): Promise<IssuedToken>
  /** Option `signature_mode`: which proofs {@link Signer.signRequest} adds. */
  readonly signatureMode: 'jwt' | 'http-signature' | 'both'
  /**
   * Signs a request in the configured `signature_mode` and returns every header to set.
   * For the HTTP Message Signature the facts must hold the method, scheme, host, path and
   * query as forwarded, and the digest of the body forwarded (absent for none).
   *
   * @example
   * ```ts
   * const { headers } = await signer.signRequest({
   *   method: 'POST', scheme: 'https', host: 'orders.internal', path: '/orders',
   *   body: digestBytes(body), headers: { 'content-type': 'application/json' },
   * })
   * await fetch('https://orders.internal/orders', { method: 'POST', body, headers: { ...headers, 'content-type': 'application/json' } })
   * ```
   */
  signRequest(facts?: RequestFacts): Promise<SignedRequest>
  /**
   * The callback form of `issue`, for hot request paths (no promise per token): `done` gets
   * the error (`SigningError`, `KeyError`) or the token, once.
   */
  issueCallback(
    facts: RequestFacts,
    done: (err: Error | null, token: IssuedToken | undefined) => void,
  ): void
  /** The public keys in use (and the one replaced by the last reload), for verifiers. */
  jwks(): JsonWebKeySet
  /** Checks the key files now and loads them if they changed; `true` when a new key is used. */
  reload(): Promise<boolean>
  /** Stops the signer; later calls throw `ERR_SIGNER_CLOSED`. */
  close(): void
}

const NOOP_LOGGER: SignerLogger = { info() {}, warn() {}, error() {} }

/**
 * Creates a signer: validates the options, loads and checks the key and certificate, and
 * encodes the header once. Fails here, not on the first request, when anything is wrong.
 *
 * @example
 * ```ts
 * import { createSigner, digestBytes } from 'kong-upstream-jwt'
 *
 * const signer = await createSigner({
 *   private_key_location: './keys/key.pem',
 *   public_key_location: './keys/cert.cer',
 *   issuer: 'my-gateway',
 * })
 * const body = JSON.stringify({ id: 1 })
 * const value = await signer.sign({ method: 'POST', body: digestBytes(body), service: { name: 'orders' } })
 * await fetch('http://orders.internal/orders', { method: 'POST', body, headers: { [signer.headerName]: value } })
 * ```
 * @throws {ConfigError | KeyError}
 */
export async function createSigner(
  options: SignerOptions = {},
  context: SignerContext = {},
): Promise<Signer> {
  const resolved = resolveOptions(options, context)
  const clock = context.clock ?? Date.now
  const store = await KeyStore.open(resolved, context.logger ?? NOOP_LOGGER, clock, context.signOn)
  if (
    resolved.signature_mode !== 'jwt' &&
    store.active.material.privateKey.asymmetricKeyType === 'ed448'
  ) {
    // RFC 9421 §3.3.6 registers Ed25519 only.
    throw new KeyError(
      'ERR_KEY_UNSUITABLE',
      `signature_mode ${resolved.signature_mode} needs an Ed25519 key for EdDSA (RFC 9421 registers no Ed448 algorithm), but the key in ${store.active.material.files.key} is Ed448`,
      store.active.material.files.key,
    )
  }
  const prefix = resolved.include_credential_type ? 'Bearer ' : ''
  let closed = false

  const prepare = (
    facts: RequestFacts,
  ): { key: ActiveKey; claims: UpstreamClaims; payload: string; nowMs: number } => {
    if (closed) throw new SigningError('the signer is closed', { code: 'ERR_SIGNER_CLOSED' })
    const nowMs = clock()
    store.poll(nowMs)
    const key = store.active
    if (nowMs > key.expiresAt) {
      throw new KeyError(
        'ERR_SIGNING_CERT_EXPIRED',
        `the signing certificate in ${key.material.files.cert} has expired`,
        key.material.files.cert,
      )
    }
    const claims = buildClaims(facts, resolved, {
      now: Math.floor(nowMs / 1000),
      jti: randomUUID(),
    })
    return { key, claims, payload: encodeJson(claims), nowMs }
  }

  const issue = async (facts: RequestFacts = {}): Promise<IssuedToken> => {
    const { key, claims, payload } = prepare(facts)
    const token = await signCompact(key.encodedHeader, payload, key.signingKey)
    return { value: prefix + token, token, claims, kid: key.jwk.kid }
  }

  const signRequest = async (facts: RequestFacts = {}): Promise<SignedRequest> => {
    const mode = resolved.signature_mode
    // One key for both proofs: a reload between them would sign the JWT and the message
    // with different keys, and a verifier in `both` mode checks them with the JWT's key.
    const { key, claims, payload, nowMs } = prepare(facts)
    let token: IssuedToken | undefined
    if (mode !== 'http-signature') {
      const compact = await signCompact(key.encodedHeader, payload, key.signingKey)
      token = { value: prefix + compact, token: compact, claims, kid: key.jwk.kid }
      if (mode === 'jwt') return { headers: { [resolved.header]: token.value }, token }
    }
    const created = Math.floor(nowMs / 1000)
    const nonce = token ? claims.jti : randomUUID()
    const signed = await signHttpMessage(
      facts,
      {
        label: resolved.signature_label,
        created,
        expires: created + resolved.token_ttl,
        nonce,
        keyid: key.jwk.kid,
        tag: resolved.signature_tag,
      },
      key.signingKey,
      token ? { name: resolved.header, value: token.value } : undefined,
    )
    return {
      headers: token ? { [resolved.header]: token.value, ...signed.headers } : signed.headers,
      token,
      httpSignature: { ...signed, nonce },
    }
  }

  return {
    headerName: resolved.header,
    signatureMode: resolved.signature_mode,
    signRequest,
    issue,
    issueCallback(facts, done) {
      let prepared: ReturnType<typeof prepare>
      try {
        prepared = prepare(facts)
      } catch (err) {
        return done(err as Error, undefined)
      }
      const { key, claims, payload } = prepared
      signCompactCallback(key.encodedHeader, payload, key.signingKey, (err, token) => {
        if (err) done(err, undefined)
        else done(null, { value: prefix + token, token, claims, kid: key.jwk.kid })
      })
    },
    async sign(facts = {}) {
      const { key, payload } = prepare(facts)
      return prefix + (await signCompact(key.encodedHeader, payload, key.signingKey))
    },
    signSync(facts = {}) {
      const { key, payload } = prepare(facts)
      return prefix + signCompactSync(key.encodedHeader, payload, key.signingKey)
    },
    jwks() {
      const keys = [store.active.jwk]
      const previous = store.previous?.jwk
      if (previous && previous.kid !== keys[0]?.kid) keys.push(previous)
      return { keys }
    },
    reload: () => store.reload(),
    close() {
      closed = true
    },
  }
}
