/**
 * Reading one field of a declarative configuration entity: type, range and default checks
 * whose errors name the entity and the field.
 * @module
 */
import { createHash } from 'node:crypto'
import { GatewayConfigError } from '../core/errors.js'

export { GatewayConfigError }

export type Raw = Record<string, unknown>

export function fail(message: string): never {
  throw new GatewayConfigError(message)
}

export function object(value: unknown, where: string): Raw {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(`${where} must be a mapping`)
  return value as Raw
}

export function list(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) fail(`${where} must be a list`)
  return value
}

export function known(raw: Raw, fields: readonly string[], where: string): void {
  const unknown = Object.keys(raw).filter((k) => !fields.includes(k))
  if (unknown.length > 0) {
    fail(
      `${where}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${f}"`).join(', ')} (supported: ${fields.join(', ')})`,
    )
  }
}

export function str(raw: Raw, key: string, where: string): string | undefined {
  const v = raw[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string' || v === '') fail(`${where}: "${key}" must be a non-empty string`)
  return v
}

export function int(
  raw: Raw,
  key: string,
  where: string,
  def: number,
  min: number,
  max: number,
): number {
  const v = raw[key] ?? def
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(`${where}: "${key}" must be an integer between ${min} and ${max}`)
  }
  return v
}

export function bool(raw: Raw, key: string, where: string, def: boolean): boolean {
  const v = raw[key] ?? def
  if (typeof v !== 'boolean') fail(`${where}: "${key}" must be true or false`)
  return v
}

export function strings(raw: Raw, key: string, where: string): string[] {
  return list(raw[key], `${where}: "${key}"`).map((v) => {
    if (typeof v !== 'string' || v === '') fail(`${where}: "${key}" must list non-empty strings`)
    return v
  })
}

/** Kong ids are UUIDs; entities without one get a stable one derived from their name. */
export function stableId(kind: string, name: string): string {
  const h = createHash('sha256').update(`${kind}:${name}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}
