import { httpSignatureProblem } from '../core/algorithms.js'
import { ConfigError } from '../core/errors.js'
import {
  type JsonValue,
  OPTIONS,
  type OptionName,
  type OptionSpec,
  type ResolvedOptions,
} from './table.js'

/** Where `resolveOptions` reads environment variables from, and what it may skip. */
export interface ResolveContext {
  /** Environment consulted for options with an `env` override; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Keys that are not options but may be present (e.g. Kong's `__key__`); skipped silently. */
  readonly ignore?: (key: string) => boolean
}

const NAMES = Object.keys(OPTIONS) as OptionName[]

/** Shows a bad value in an error message: short, and never for a secret option. */
export function describeValue(value: unknown, spec?: OptionSpec): string {
  if (spec?.secret) return '(value hidden)'
  let text: string
  try {
    text =
      typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value))
  } catch {
    text = Object.prototype.toString.call(value)
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

function fail(name: string, spec: OptionSpec, value: unknown, problem: string): never {
  throw new ConfigError(
    'ERR_OPTION_INVALID',
    name,
    `option "${name}" ${problem} (got ${describeValue(value, spec)})`,
  )
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function isJson(value: unknown, depth = 0): value is JsonValue {
  if (depth > 32) return false
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isFinite(value)
  if (Array.isArray(value)) return value.every((v) => isJson(v, depth + 1))
  return isPlainObject(value) && Object.values(value).every((v) => isJson(v, depth + 1))
}

function coerce(name: string, spec: OptionSpec, value: unknown): unknown {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') fail(name, spec, value, 'must be a string')
      return value
    case 'boolean':
      if (typeof value !== 'boolean') fail(name, spec, value, 'must be true or false')
      return value
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        fail(name, spec, value, 'must be an integer')
      }
      if (value < spec.min || value > spec.max) {
        fail(name, spec, value, `must be between ${spec.min} and ${spec.max}`)
      }
      return value
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) {
        fail(name, spec, value, `must be one of ${spec.values.join(', ')}`)
      }
      return value
    case 'map':
      if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        fail(name, spec, value, 'must be a map of strings to strings')
      }
      return Object.freeze({ ...value })
    case 'record':
      if (!isPlainObject(value) || !isJson(value)) {
        fail(name, spec, value, 'must be a map of names to JSON values')
      }
      // Through JSON, so the configured claims are exactly what tokens carry (-0 becomes 0).
      return Object.freeze(JSON.parse(JSON.stringify(value)))
  }
}

/**
 * Validates signer options and applies defaults and environment overrides. Unknown keys are
 * refused with the list of known ones; every error names the option and shows the bad value
 * (never for a secret option).
 *
 * @example
 * ```ts
 * const options = resolveOptions({ issuer: 'kong', token_ttl: 30 })
 * options.header // 'JWT'
 * ```
 * @throws {ConfigError} `ERR_OPTION_UNKNOWN` or `ERR_OPTION_INVALID`
 */
export function resolveOptions(input: unknown, context: ResolveContext = {}): ResolvedOptions {
  const env = context.env ?? process.env
  if (input === undefined || input === null) input = {}
  if (!isPlainObject(input)) {
    throw new ConfigError('ERR_OPTION_INVALID', '(options)', 'options must be an object')
  }
  for (const key of Object.keys(input)) {
    if (Object.hasOwn(OPTIONS, key) || context.ignore?.(key)) continue
    throw new ConfigError(
      'ERR_OPTION_UNKNOWN',
      key,
      `unknown option "${key}"; known options are: ${NAMES.join(', ')}`,
    )
  }
  const out: Record<string, unknown> = {}
  for (const name of NAMES) {
    const spec: OptionSpec = OPTIONS[name]
    const fromEnv = spec.env ? env[spec.env] : undefined
    let value: unknown = fromEnv !== undefined && fromEnv !== '' ? fromEnv : input[name]
    if (value === undefined || value === null) value = 'default' in spec ? spec.default : undefined
    if (value === undefined) {
      out[name] = undefined
      continue
    }
    const coerced = coerce(name, spec, value)
    const problem = spec.check?.(coerced as never)
    if (problem) fail(name, spec, value, problem)
    out[name] = coerced
  }
  const resolved = out as ResolvedOptions
  if (resolved.signature_mode !== 'jwt') {
    const problem = httpSignatureProblem(resolved.algorithm)
    if (problem) {
      throw new ConfigError(
        'ERR_OPTION_INVALID',
        'algorithm',
        `option "algorithm" ${resolved.algorithm} cannot be used with signature_mode ${resolved.signature_mode}: ${problem}`,
      )
    }
  }
  return Object.freeze(out) as ResolvedOptions
}
