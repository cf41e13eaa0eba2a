import { OPTIONS, type OptionName, type OptionSpec } from '../options/table.js'

/** One field of a Kong plugin schema, as the plugin server reports it to Kong. */
export type KongField = Record<string, Record<string, unknown>>

function field(spec: OptionSpec): Record<string, unknown> {
  const base: Record<string, unknown> = { required: false }
  if ('default' in spec && spec.default !== undefined) base.default = spec.default
  switch (spec.type) {
    case 'string':
      return { type: 'string', ...base }
    case 'boolean':
      return { type: 'boolean', ...base }
    case 'integer':
      return { type: 'integer', between: [spec.min, spec.max], ...base }
    case 'enum':
      return { type: 'string', one_of: [...spec.values], ...base }
    // Kong maps need a value type: static claims are strings in a Kong configuration.
    case 'map':
    case 'record':
      return { type: 'map', keys: { type: 'string' }, values: { type: 'string' }, ...base }
  }
}

/**
 * The plugin's `config` fields for Kong, derived from the options table: the original six keep
 * their names and defaults, so an existing configuration of the Lua plugin validates as it is.
 *
 * @example
 * ```ts
 * kongSchema().find((f) => 'header' in f) // { header: { type: 'string', required: false, default: 'JWT' } }
 * ```
 */
export function kongSchema(): KongField[] {
  return (Object.keys(OPTIONS) as OptionName[]).map((name) => ({ [name]: field(OPTIONS[name]) }))
}
