/**
 * Every signer option, once. The typed runtime config, the Kong plugin schema, the kong.yml
 * validation, the CLI flags and the README table are all derived from this table.
 * @module
 */
import { ALGORITHMS } from '../core/algorithms.js'
import { DEFAULT_HEADER, DEFAULT_MAX_BODY_SIZE } from '../core/defaults.js'

/** A JSON value, as allowed in static `claims`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue }

interface BaseSpec {
  /** One sentence for the README table and `--help`. */
  readonly description: string
  /** How this option relates to the Lua original, where it matters. */
  readonly compat?: string
  /** An environment variable that, when set, wins over the configured value. */
  readonly env?: string
  /** Never echo the value (in errors, logs or `--help` defaults). */
  readonly secret?: boolean
  /** A further check on a value of the right type; returns what is wrong, or undefined. */
  readonly check?: (value: never) => string | undefined
}

export interface StringSpec extends BaseSpec {
  readonly type: 'string'
  readonly default?: string
}
export interface BooleanSpec extends BaseSpec {
  readonly type: 'boolean'
  readonly default: boolean
}
export interface IntegerSpec extends BaseSpec {
  readonly type: 'integer'
  readonly default: number
  readonly min: number
  readonly max: number
}
export interface EnumSpec extends BaseSpec {
  readonly type: 'enum'
  readonly values: readonly string[]
  readonly default: string
}
/** A map of string to string, e.g. header name → claim name. */
export interface MapSpec extends BaseSpec {
  readonly type: 'map'
}
/** A map of claim name → any JSON value. */
export interface RecordSpec extends BaseSpec {
  readonly type: 'record'
}

export type OptionSpec = StringSpec | BooleanSpec | IntegerSpec | EnumSpec | MapSpec | RecordSpec

/**
 * Claim names the signer sets itself. Static `claims` and `headers_to_claims` may not use them,
 * so that configuration can never forge or shadow a security-relevant claim.
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'consumerid',
  'consumername',
  'payloadhash',
  'htm',
  'htu',
  'htq',
])

// RFC 9110 §5.1: a field name is a token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function headerName(value: string): string | undefined {
  return TOKEN.test(value) ? undefined : 'must be a valid HTTP header name (RFC 9110 token)'
}

// RFC 8941 §3.2: a dictionary key (the signature label) is lcalpha or "*", then
// lcalpha, DIGIT, "_", "-", "." or "*".
const SF_KEY = /^[a-z*][a-z0-9_.*-]*$/

function sfKey(value: string): string | undefined {
  return SF_KEY.test(value)
    ? undefined
    : 'must be a structured-field key (RFC 8941 §3.2): lower-case letters, digits, _ - . *'
}

function nonEmpty(value: string): string | undefined {
  return value.length > 0 ? undefined : 'must not be empty'
}

function claimNames(names: Iterable<string>): string | undefined {
  for (const name of names) {
    if (name.length === 0) return 'claim names must not be empty'
    // Assigning it would replace the claims object's prototype instead of adding a claim.
    if (name === '__proto__') return 'claim name "__proto__" is not allowed'
    if (RESERVED_CLAIMS.has(name))
      return `claim "${name}" is set by the signer and cannot be configured`
  }
  return undefined
}

/** The options table. Keys are the snake_case names used in Kong and kong.yml. */
export const OPTIONS = {
  issuer: {
    type: 'string',
    description: 'Value of the `iss` claim; omitted when unset.',
    compat: 'Same as the original, which also set `iat` only when an issuer was configured.',
    check: nonEmpty,
  },
  private_key_location: {
    type: 'string',
    env: 'KONG_SSL_CERT_KEY',
    description:
      'Path of the private key: PEM (PKCS#1, PKCS#8, SEC1, encrypted PKCS#8) or DER. The environment variable wins.',
    compat: 'Same name and precedence as the original.',
    check: nonEmpty,
  },
  public_key_location: {
    type: 'string',
    env: 'KONG_SSL_CERT_DER',
    description:
      'Path of the certificate: DER (`.cer`) or PEM; a PEM file may hold the whole chain, leaf first. The environment variable wins.',
    compat: 'The original read DER only.',
    check: nonEmpty,
  },
  private_key_passphrase: {
    type: 'string',
    env: 'KONG_UPSTREAM_JWT_KEY_PASSPHRASE',
    secret: true,
    description: 'Passphrase of an encrypted private key. The environment variable wins.',
    compat: 'New.',
  },
  key_id: {
    type: 'string',
    description:
      'Value of the `kid` header; `auto` sets the RFC 7638 JWK thumbprint of the key. Omitted when unset.',
    compat: '`auto` is new.',
    check: nonEmpty,
  },
  header: {
    type: 'string',
    default: DEFAULT_HEADER,
    description: 'Name of the request header that carries the token.',
    compat: 'Same as the original.',
    check: headerName,
  },
  include_credential_type: {
    type: 'boolean',
    default: false,
    description: 'Prefix the header value with `Bearer `.',
    compat: 'Same as the original.',
  },
  algorithm: {
    type: 'enum',
    values: ALGORITHMS,
    default: 'RS256',
    description:
      'JWS algorithm; the key type must fit it (RSA ≥ 2048 bits, EC on its curve, Ed25519/Ed448).',
    compat: 'The original signed RS256 only.',
  },
  token_ttl: {
    type: 'integer',
    default: 60,
    min: 1,
    max: 86_400,
    description: 'Lifetime of a token in seconds (`exp` = now + ttl).',
    compat: 'The original used a fixed 60 s.',
  },
  x5c: {
    type: 'enum',
    values: ['chain', 'leaf', 'none'],
    default: 'chain',
    description:
      'Certificates in the `x5c` header: every certificate of the file (leaf first), the leaf only, or none.',
    compat: 'The original sent the leaf only.',
  },
  x5c_encoding: {
    type: 'enum',
    values: ['base64', 'base64url'],
    default: 'base64',
    description:
      'Encoding of `x5c` entries: standard base64 as RFC 7515 §4.1.6 requires, or `base64url` for upstreams written against the original.',
    compat: 'The original used base64url without padding (a defect); set `base64url` to keep it.',
  },
  include_x5t_s256: {
    type: 'boolean',
    default: false,
    description: 'Add the `x5t#S256` header: SHA-256 thumbprint of the leaf certificate.',
    compat: 'New.',
  },
  include_iat: {
    type: 'boolean',
    default: true,
    description: 'Add the `iat` claim.',
    compat: 'The original set `iat` only when `issuer` was set.',
  },
  include_nbf: {
    type: 'boolean',
    default: false,
    description: 'Add the `nbf` claim (= `iat`).',
    compat: 'New.',
  },
  subject: {
    type: 'enum',
    values: ['none', 'consumer_id', 'consumer_username', 'consumer_custom_id'],
    default: 'none',
    description:
      "Value of the `sub` claim: none, or the authenticated consumer's id, username or custom_id.",
    compat: 'New.',
  },
  audience: {
    type: 'string',
    description: 'Value of the `aud` claim; by default the name of the Kong service.',
    compat: 'The original always used the service name.',
    check: nonEmpty,
  },
  typ: {
    type: 'string',
    default: 'JWT',
    description:
      'Value of the `typ` header; set an explicit type per RFC 8725 §3.11 if upstreams expect one.',
    compat: 'The original always sent `JWT`.',
    check: nonEmpty,
  },
  payload_hash: {
    type: 'boolean',
    default: true,
    description: 'Add the `payloadhash` claim (hex SHA-256 of the body, `""` for no body).',
    compat: 'Always on in the original; off omits the claim, for users who asked for it.',
  },
  bind_request: {
    type: 'boolean',
    default: false,
    description:
      'Bind the token to the request as forwarded: `htm` (method), `htu` (URL without query, RFC 9449) and `htq` (base64url SHA-256 of the raw query).',
    compat: 'New.',
  },
  headers_to_claims: {
    type: 'map',
    description: 'Copy request headers into claims: a map of header name → claim name.',
    compat: 'New.',
    check: (value: Record<string, string>) => {
      for (const name of Object.keys(value)) {
        const problem = headerName(name)
        if (problem) return `key "${name}" ${problem}`
      }
      return claimNames(Object.values(value))
    },
  },
  claims: {
    type: 'record',
    description: 'Static claims added to every token; the names the signer sets are refused.',
    compat: 'New.',
    check: (value: Record<string, JsonValue>) => claimNames(Object.keys(value)),
  },
  signature_mode: {
    type: 'enum',
    values: ['jwt', 'http-signature', 'both'],
    default: 'jwt',
    description:
      'What proves the request: the JWT header, HTTP Message Signatures (RFC 9421 `Signature-Input`/`Signature` with an RFC 9530 `Content-Digest`), or both (the signature then covers the JWT header). The signature modes need RS256, PS512, ES256, ES384 or EdDSA with Ed25519.',
    compat: 'New; `jwt` is the original behaviour.',
  },
  signature_label: {
    type: 'string',
    default: 'sig1',
    description:
      'Label of the HTTP Message Signature in `Signature-Input` and `Signature` (RFC 9421 §4.1).',
    compat: 'New.',
    check: sfKey,
  },
  signature_tag: {
    type: 'string',
    default: 'kong-upstream-jwt',
    description:
      'The `tag` parameter of the HTTP Message Signature (RFC 9421 §2.3): names the application so a verifier can tell our signatures from others.',
    compat: 'New.',
    check: nonEmpty,
  },
  max_body_size: {
    type: 'integer',
    default: DEFAULT_MAX_BODY_SIZE,
    min: 0,
    max: 2 ** 31 - 1,
    description:
      'Kong plugin: largest request body read for hashing, in bytes; a larger one is refused with 413 (never signed with an empty hash).',
    compat: 'The original silently sent `payloadhash: ""` for bodies nginx had buffered to disk.',
  },
  key_reload_interval: {
    type: 'integer',
    default: 5,
    min: 0,
    max: 86_400,
    description:
      'Seconds between checks of the key files for changes (rotation without restart); 0 never reloads.',
    compat: 'The original cached keys for the life of the worker.',
  },
} as const satisfies Record<string, OptionSpec>

/** The name of a signer option. */
export type OptionName = keyof typeof OPTIONS

type ValueOf<S> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'integer' }
    ? number
    : S extends { type: 'enum'; values: readonly (infer V)[] }
      ? V
      : S extends { type: 'map' }
        ? Readonly<Record<string, string>>
        : S extends { type: 'record' }
          ? Readonly<Record<string, JsonValue>>
          : string

/**
 * Signer options as a user writes them (Kong config, kong.yml, JavaScript). Every field is
 * optional; `null` means unset, as in a Kong plugin config.
 */
export type SignerOptions = { [K in OptionName]?: ValueOf<(typeof OPTIONS)[K]> | null }

/** Signer options after validation: defaults applied, environment variables resolved. */
export type ResolvedOptions = {
  readonly [K in OptionName]: (typeof OPTIONS)[K] extends { default: unknown }
    ? ValueOf<(typeof OPTIONS)[K]>
    : ValueOf<(typeof OPTIONS)[K]> | undefined
}
