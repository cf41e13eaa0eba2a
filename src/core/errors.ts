/**
 * Every error this package raises on purpose, as one table: code → class, HTTP status and a
 * one-line description. The `ErrorCode` type, each error's `status` and the README's error
 * table are all made from `ERRORS`, so none of them can drift from it; no call site chooses a
 * status. Messages name the option, file or claim at fault and never contain a token, a key or
 * a passphrase.
 *
 * @example
 * ```ts
 * import { createSigner, UpstreamJwtError } from 'kong-upstream-jwt'
 * try {
 *   await createSigner({ private_key_location: './missing.pem' })
 * } catch (err) {
 *   if (err instanceof UpstreamJwtError) console.error(err.code, err.status, err.message)
 * }
 * ```
 * @module
 */

/** One row of the errors table. */
export interface ErrorSpec {
  /** The class an error with this code is an instance of. */
  readonly class: string
  /** HTTP status an edge (gateway, Kong plugin, middleware) answers with. */
  readonly status: number
  /** What the code means, in one line (the README's error table shows it). */
  readonly description: string
}

/**
 * The errors table. Codes are stable: users branch on them, so a code keeps its meaning and a
 * new meaning gets a new code.
 */
export const ERRORS = {
  ERR_OPTION_UNKNOWN: {
    class: 'ConfigError',
    status: 500,
    description: 'an option name the table does not know (options, kong.yml, verifier options)',
  },
  ERR_OPTION_INVALID: {
    class: 'ConfigError',
    status: 500,
    description:
      'an option value outside its type or range (a verifier without `audience`), or a kong.yml entity that cannot run',
  },
  ERR_KEY_NOT_FOUND: {
    class: 'KeyError',
    status: 500,
    description: 'a configured key, certificate or trust file does not exist',
  },
  ERR_KEY_UNREADABLE: {
    class: 'KeyError',
    status: 500,
    description: 'a configured key, certificate or trust file cannot be read',
  },
  ERR_KEY_INVALID: {
    class: 'KeyError',
    status: 500,
    description: 'the private key cannot be parsed (PEM or DER: PKCS#8, PKCS#1, SEC1)',
  },
  ERR_KEY_PASSPHRASE: {
    class: 'KeyError',
    status: 500,
    description: 'the private key is encrypted and the passphrase is missing or wrong',
  },
  ERR_KEY_MISMATCH: {
    class: 'KeyError',
    status: 500,
    description: 'the private key does not belong to the certificate',
  },
  ERR_KEY_UNSUITABLE: {
    class: 'KeyError',
    status: 500,
    description: 'the key does not fit the algorithm (type, curve, RSA under 2048 bits)',
  },
  ERR_CERT_INVALID: {
    class: 'KeyError',
    status: 500,
    description:
      'a configured certificate file cannot be parsed, is not a chain in order, or may not sign',
  },
  ERR_SIGNING_CERT_EXPIRED: {
    class: 'KeyError',
    status: 500,
    description: "a certificate of the signer's own chain has expired",
  },
  ERR_SIGNING_CERT_NOT_YET_VALID: {
    class: 'KeyError',
    status: 500,
    description: "a certificate of the signer's own chain is not valid yet",
  },
  ERR_SIGNING_FAILED: {
    class: 'SigningError',
    status: 500,
    description: 'signing failed; the request is not forwarded',
  },
  ERR_SIGNER_CLOSED: {
    class: 'SigningError',
    status: 500,
    description: 'the signer was closed',
  },
  ERR_BODY_TOO_LARGE: {
    class: 'BodyError',
    status: 413,
    description: 'the request body is larger than the configured limit',
  },
  ERR_BODY_READ: {
    class: 'BodyError',
    status: 400,
    description: 'reading the request body from the client failed (aborted, broken)',
  },
  ERR_BODY_UNAVAILABLE: {
    class: 'BodyError',
    status: 500,
    description:
      'Kong could not hand over the whole body (nginx buffered it to disk); it is not signed',
  },
  ERR_RAW_BODY_UNAVAILABLE: {
    class: 'BodyError',
    status: 500,
    description: 'middleware: a body parser consumed the body before verification kept its bytes',
  },
  ERR_TOKEN_MISSING: {
    class: 'TokenMissingError',
    status: 401,
    description: 'no token in the request',
  },
  ERR_TOKEN_MALFORMED: {
    class: 'TokenFormatError',
    status: 401,
    description:
      'the token is not three canonical base64url parts of JSON objects, is too long, or has duplicate members or `crit`',
  },
  ERR_ALG_NOT_ALLOWED: {
    class: 'AlgorithmNotAllowedError',
    status: 401,
    description: "the token's `alg` is not on the allowlist or does not fit the key",
  },
  ERR_SIGNATURE_INVALID: {
    class: 'SignatureInvalidError',
    status: 401,
    description: 'the signature does not verify with the trusted key',
  },
  ERR_CERT_UNTRUSTED: {
    class: 'CertificateError',
    status: 401,
    description: 'no trusted key for the token: the x5c chain, a pin or the JWKS',
  },
  ERR_CERT_EXPIRED: {
    class: 'CertificateError',
    status: 401,
    description: "a certificate of the token's chain (or its trust anchor) has expired",
  },
  ERR_CERT_NOT_YET_VALID: {
    class: 'CertificateError',
    status: 401,
    description: "a certificate of the token's chain (or its trust anchor) is not valid yet",
  },
  ERR_TOKEN_EXPIRED: {
    class: 'TokenExpiredError',
    status: 401,
    description:
      "`exp` has passed, or the token is older than `maxTokenAge`, or an HTTP Message Signature's `expires` has passed or its `created` is older than `maxTokenAge`",
  },
  ERR_TOKEN_NOT_YET_VALID: {
    class: 'TokenNotYetValidError',
    status: 401,
    description: "`nbf`, or an HTTP Message Signature's `created`, is in the future",
  },
  ERR_CLAIM_INVALID: {
    class: 'ClaimInvalidError',
    status: 401,
    description: 'a claim (or `typ`) is missing, of the wrong type or value',
  },
  ERR_BODY_HASH_MISMATCH: {
    class: 'BodyHashMismatchError',
    status: 401,
    description: '`payloadhash`, or `Content-Digest` (RFC 9530), does not match the body received',
  },
  ERR_BINDING_MISMATCH: {
    class: 'BindingMismatchError',
    status: 401,
    description: '`htm`, `htu` or `htq` does not match the request',
  },
  ERR_COMPONENT_NOT_COVERED: {
    class: 'ComponentNotCoveredError',
    status: 401,
    description:
      'an HTTP Message Signature does not cover a required component (`@method`, `@target-uri`, `content-digest`, …)',
  },
  ERR_TOKEN_REPLAYED: {
    class: 'TokenReplayedError',
    status: 401,
    description: "the token's `jti`, or an HTTP Message Signature's `nonce`, was seen before",
  },
  ERR_REPLAY_STORE_UNAVAILABLE: {
    class: 'VerifierUnavailableError',
    status: 503,
    description: "the verifier's replay store failed",
  },
  ERR_JWKS_UNAVAILABLE: {
    class: 'VerifierUnavailableError',
    status: 503,
    description: 'the verifier could not fetch the JWKS',
  },
  ERR_UPSTREAM_UNREACHABLE: {
    class: 'UpstreamError',
    status: 502,
    description: 'gateway: the upstream could not be reached or answered badly',
  },
  ERR_UPSTREAM_TIMEOUT: {
    class: 'UpstreamError',
    status: 504,
    description: 'gateway: the upstream timed out',
  },
  ERR_UPSTREAM_TLS: {
    class: 'UpstreamError',
    status: 502,
    description:
      'gateway: TLS to the upstream failed (untrusted, name mismatch, expired, client certificate refused); the log says which',
  },
  ERR_LISTEN_FAILED: {
    class: 'UpstreamJwtError',
    status: 500,
    description: 'gateway: an address to listen on is taken or not allowed',
  },
  ERR_USAGE: {
    class: 'UsageError',
    status: 400,
    description:
      'CLI: a command line that cannot be run: a bad flag or a value out of range, an input file that cannot be read (named), no token (exit 2)',
  },
  ERR_FILE_EXISTS: {
    class: 'UpstreamJwtError',
    status: 409,
    description: 'keygen: an output file exists and `--force` is off',
  },
  ERR_BUNDLE_MISSING: {
    class: 'UpstreamJwtError',
    status: 500,
    description: 'CLI `kong`: the Kong plugin bundle is missing from the installed package',
  },
  ERR_PLUGINSERVER_NOT_FOUND: {
    class: 'UpstreamJwtError',
    status: 500,
    description: 'CLI `kong`: `--pluginserver PATH` names no executable file',
  },
  ERR_NODE_UNSUPPORTED: {
    class: 'UpstreamJwtError',
    status: 500,
    description:
      'CLI: a command other than `kong` run on a Node below 20.18.1 (the `kong` commands run on 18.19)',
  },
  ERR_INTERNAL: {
    class: 'UpstreamJwtError',
    status: 500,
    description: 'an unexpected failure (a bug): the details go to the log, not to the client',
  },
} as const satisfies Record<`ERR_${string}`, ErrorSpec>

/** Every code an error of this package can carry. */
export type ErrorCode = keyof typeof ERRORS

/** The codes whose errors are instances of class `C` (by the table). */
export type ErrorCodeOf<C extends string> = {
  [K in ErrorCode]: (typeof ERRORS)[K]['class'] extends C ? K : never
}[ErrorCode]

/** The HTTP status of a code, by the table. */
export function statusOf(code: ErrorCode): number {
  return ERRORS[code].status
}

// Brands survive two copies of the package in one process (undici does the same): `instanceof`
// compares class names recorded on the instance instead of prototype identity.
const kKinds = Symbol.for('kong-upstream-jwt.error.kinds')

type Cause = { cause?: unknown }

/** Base class of every error this package throws on purpose. */
export class UpstreamJwtError extends Error {
  /** Stable machine-readable code, e.g. `ERR_KEY_MISMATCH`. */
  readonly code: ErrorCode
  /** HTTP status an edge answers with when this error ends a request (from `ERRORS`). */
  readonly status: number
  declare readonly [kKinds]: ReadonlySet<string>

  constructor(code: ErrorCode, message: string, options?: Cause) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.status = statusOf(code)
    const kinds = new Set<string>()
    for (
      let p: unknown = new.target;
      typeof p === 'function' && p !== Error;
      p = Object.getPrototypeOf(p)
    ) {
      kinds.add(p.name)
    }
    Object.defineProperty(this, kKinds, { value: kinds })
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    const kinds = (value as { [kKinds]?: ReadonlySet<string> } | null | undefined)?.[kKinds]
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against
    return kinds instanceof Set && kinds.has(this.name)
  }

  /** A JSON-safe view for responses and log lines: code, status and message only. */
  toJSON(): { code: ErrorCode; status: number; message: string } {
    return { code: this.code, status: this.status, message: this.message }
  }
}

/** A configuration option is unknown or has a value outside its type or range. */
export class ConfigError extends UpstreamJwtError {
  /** The option at fault, as named in the configuration (snake_case). */
  readonly option: string
  constructor(code: ErrorCodeOf<'ConfigError'>, option: string, message: string, options?: Cause) {
    super(code, message, options)
    this.option = option
  }
}

/**
 * A kong.yml configuration that cannot be run; the message names the entity and the field
 * (`ERR_OPTION_INVALID`).
 */
export class GatewayConfigError extends ConfigError {
  constructor(message: string, options?: Cause & { option?: string }) {
    super('ERR_OPTION_INVALID', options?.option ?? '', message, options)
  }
}

/** A key or certificate file is missing, unreadable, malformed or unfit for the algorithm. */
export class KeyError extends UpstreamJwtError {
  /** The file at fault, when the material came from a file. */
  readonly file: string | undefined
  constructor(code: ErrorCodeOf<'KeyError'>, message: string, file?: string, options?: Cause) {
    super(code, message, options)
    this.file = file
  }
}

/** Signing a token failed; the request must not be forwarded. */
export class SigningError extends UpstreamJwtError {
  constructor(message: string, options?: Cause & { code?: ErrorCodeOf<'SigningError'> }) {
    super(options?.code ?? 'ERR_SIGNING_FAILED', message, options)
  }
}

/** A request body could not be taken in whole: too large, the read failed, or it is not there. */
export class BodyError extends UpstreamJwtError {
  /** The configured limit in bytes, for `ERR_BODY_TOO_LARGE`. */
  readonly limit: number | undefined
  constructor(
    code: ErrorCodeOf<'BodyError'>,
    message: string,
    options?: Cause & { limit?: number },
  ) {
    super(code, message, options)
    this.limit = options?.limit
  }

  /**
   * What a failed body read is reported as: a `BodyError` as it is (e.g. over the limit),
   * anything else (a stream error, the client gone) as `ERR_BODY_READ` with it as the cause.
   *
   * @example
   * ```ts
   * req.on('error', (err) => done(BodyError.fromReadFailure(err)))
   * ```
   */
  static fromReadFailure(err: unknown): BodyError {
    return err instanceof BodyError
      ? err
      : new BodyError('ERR_BODY_READ', 'request body could not be read', { cause: err })
  }
}

/**
 * The gateway's upstream failed: unreachable or broke off (502), or too slow (504). The client
 * sees only the message; `upstream` and `reason` say which upstream and why, for the log.
 */
export class UpstreamError extends UpstreamJwtError {
  /** `host:port` of the upstream. */
  readonly upstream: string | undefined
  /** The cause's code (`ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_BODY_TIMEOUT`, …). */
  readonly reason: string | undefined
  /** The upstream's response head had already been passed on to the client. */
  readonly afterHead: boolean
  constructor(
    code: ErrorCodeOf<'UpstreamError'>,
    message: string,
    options?: Cause & { upstream?: string; reason?: string; afterHead?: boolean },
  ) {
    super(code, message, options)
    this.upstream = options?.upstream
    this.reason = options?.reason
    this.afterHead = options?.afterHead ?? false
  }
}

/** A command line that cannot be run; the CLI exits with 2. */
export class UsageError extends UpstreamJwtError {
  constructor(message: string) {
    super('ERR_USAGE', message)
  }
}

type ClaimOptions = Cause & { claim?: string }

/**
 * A token was refused by the verifier. Subclasses say why; `status` is 401 except where the
 * fault is on the verifier's side (503).
 */
export class VerificationError extends UpstreamJwtError {
  /** The claim or header member at fault, where one is. */
  readonly claim: string | undefined
  constructor(code: ErrorCode, message: string, options?: ClaimOptions) {
    super(code, message, options)
    this.claim = options?.claim
  }
}

/** A token could not be decoded: not three base64url parts of JSON objects, or too long. */
export class TokenFormatError extends VerificationError {
  constructor(message: string, options?: Cause) {
    super('ERR_TOKEN_MALFORMED', message, options)
  }
}

/** No token in the request (`ERR_TOKEN_MISSING`). */
export class TokenMissingError extends VerificationError {
  constructor(message: string) {
    super('ERR_TOKEN_MISSING', message)
  }
}

/** The token's `alg` is not on the allowlist or does not fit the key (`ERR_ALG_NOT_ALLOWED`). */
export class AlgorithmNotAllowedError extends VerificationError {
  constructor(message: string, options?: Cause) {
    super('ERR_ALG_NOT_ALLOWED', message, { ...options, claim: 'alg' })
  }
}

/** The signature does not verify with the trusted key (`ERR_SIGNATURE_INVALID`). */
export class SignatureInvalidError extends VerificationError {
  constructor(message: string, options?: Cause) {
    super('ERR_SIGNATURE_INVALID', message, options)
  }
}

/** No trusted key for the token, or a certificate of its chain is out of its validity. */
export class CertificateError extends VerificationError {
  constructor(code: ErrorCodeOf<'CertificateError'>, message: string, options?: ClaimOptions) {
    super(code, message, options)
  }
}

/**
 * `exp` (or `maxTokenAge`) has passed, or an HTTP Message Signature's `expires` (or its
 * `created` is older than `maxTokenAge`) (`ERR_TOKEN_EXPIRED`).
 */
export class TokenExpiredError extends VerificationError {
  constructor(message: string, claim: 'exp' | 'iat' | 'expires' | 'created') {
    super('ERR_TOKEN_EXPIRED', message, { claim })
  }
}

/** `nbf`, or a signature's `created`, is in the future (`ERR_TOKEN_NOT_YET_VALID`). */
export class TokenNotYetValidError extends VerificationError {
  constructor(message: string, claim: 'nbf' | 'created' = 'nbf') {
    super('ERR_TOKEN_NOT_YET_VALID', message, { claim })
  }
}

/** A claim is missing, of the wrong type or value (`ERR_CLAIM_INVALID`). */
export class ClaimInvalidError extends VerificationError {
  constructor(claim: string, message: string) {
    super('ERR_CLAIM_INVALID', message, { claim })
  }
}

/**
 * `payloadhash`, or the `Content-Digest` header (RFC 9530), does not match the body received
 * (`ERR_BODY_HASH_MISMATCH`).
 */
export class BodyHashMismatchError extends VerificationError {
  constructor(message: string, claim: 'payloadhash' | 'content-digest' = 'payloadhash') {
    super('ERR_BODY_HASH_MISMATCH', message, { claim })
  }
}

/**
 * An HTTP Message Signature does not cover a component the verifier requires, e.g.
 * `content-digest` (`ERR_COMPONENT_NOT_COVERED`); `claim` names the component.
 */
export class ComponentNotCoveredError extends VerificationError {
  constructor(component: string, message: string) {
    super('ERR_COMPONENT_NOT_COVERED', message, { claim: component })
  }
}

/** `htm`, `htu` or `htq` does not match the request (`ERR_BINDING_MISMATCH`). */
export class BindingMismatchError extends VerificationError {
  constructor(claim: string, message: string) {
    super('ERR_BINDING_MISMATCH', message, { claim })
  }
}

/** The token's `jti`, or a signature's `nonce`, was seen before (`ERR_TOKEN_REPLAYED`). */
export class TokenReplayedError extends VerificationError {
  constructor(claim: 'jti' | 'nonce' = 'jti') {
    super(
      'ERR_TOKEN_REPLAYED',
      claim === 'jti'
        ? 'token was already used (jti seen before)'
        : 'signature was already used (nonce seen before)',
      { claim },
    )
  }
}

/** The verifier's own dependency failed: replay store or JWKS (503). */
export class VerifierUnavailableError extends VerificationError {
  constructor(code: ErrorCodeOf<'VerifierUnavailableError'>, message: string, options?: Cause) {
    super(code, message, options)
  }
}
