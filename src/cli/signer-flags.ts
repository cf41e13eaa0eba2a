import { type Command, InvalidArgumentError, Option } from 'commander'
import { OPTIONS, type OptionName, type OptionSpec, type SignerOptions } from '../options/table.js'

/** `token_ttl` → `--token-ttl`. */
export function flagName(option: string): string {
  return option.replaceAll('_', '-')
}

function attributeName(option: string): string {
  return option.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError('must be an integer')
  return Number(value)
}

function parseJsonObject(value: string): unknown {
  try {
    return JSON.parse(value)
  } catch {
    throw new InvalidArgumentError('must be a JSON object')
  }
}

/** `name=value` pairs (repeatable) or one JSON object, into a map. */
function parseMap(
  value: string,
  previous: Record<string, string> | undefined,
): Record<string, string> {
  // Its values are checked by resolveOptions, like any other source of options.
  if (value.trimStart().startsWith('{')) return parseJsonObject(value) as Record<string, string>
  const eq = value.indexOf('=')
  if (eq <= 0) throw new InvalidArgumentError('must be NAME=VALUE or a JSON object')
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) }
}

function describe(spec: OptionSpec): string {
  const env = spec.env ? ` [env ${spec.env}]` : ''
  return spec.description.replaceAll('`', '') + env
}

/** Options that have a CLI flag: all but secrets (a passphrase belongs in the environment). */
export const FLAG_OPTIONS: readonly OptionName[] = (Object.keys(OPTIONS) as OptionName[]).filter(
  (name) => !(OPTIONS[name] as OptionSpec).secret,
)

/**
 * Adds one flag per signer option to a command, derived from the options table. Booleans get
 * `--name` and `--no-name`; nothing has a CLI default, so the table's defaults and environment
 * overrides apply exactly as in Kong.
 */
export function addSignerFlags(command: Command, skip: readonly OptionName[] = []): Command {
  for (const name of FLAG_OPTIONS) {
    if (skip.includes(name)) continue
    const spec: OptionSpec = OPTIONS[name]
    const flag = flagName(name)
    switch (spec.type) {
      case 'boolean':
        command.addOption(new Option(`--${flag}`, describe(spec)))
        command.addOption(new Option(`--no-${flag}`, `turn ${flag} off`).hideHelp())
        break
      case 'integer':
        command.addOption(new Option(`--${flag} <n>`, describe(spec)).argParser(parseInteger))
        break
      case 'enum':
        command.addOption(new Option(`--${flag} <value>`, describe(spec)).choices(spec.values))
        break
      case 'map':
        command.addOption(
          new Option(
            `--${flag} <name=value>`,
            `${describe(spec)} Repeatable, or one JSON object.`,
          ).argParser(parseMap),
        )
        break
      case 'record':
        command.addOption(new Option(`--${flag} <json>`, describe(spec)).argParser(parseJsonObject))
        break
      default:
        command.addOption(new Option(`--${flag} <value>`, describe(spec)))
    }
  }
  return command
}

/** Collects the signer options a user gave as flags; absent flags stay absent. */
export function signerOptionsFrom(parsed: Record<string, unknown>): SignerOptions {
  const out: Record<string, unknown> = {}
  for (const name of FLAG_OPTIONS) {
    const value = parsed[attributeName(name)]
    if (value !== undefined) out[name] = value
  }
  return out as SignerOptions
}
