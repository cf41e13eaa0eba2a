import { OPTIONS, type OptionName, type OptionSpec } from './table.js'

function typeOf(spec: OptionSpec): string {
  switch (spec.type) {
    case 'enum':
      return spec.values.map((v) => `\`${v}\``).join(' \\| ')
    case 'integer':
      return `integer ${spec.min}–${spec.max}`
    case 'map':
      return 'map string → string'
    case 'record':
      return 'map string → JSON'
    default:
      return spec.type
  }
}

function defaultOf(spec: OptionSpec): string {
  return 'default' in spec && spec.default !== undefined
    ? `\`${JSON.stringify(spec.default)}\``
    : '–'
}

const escapeCell = (text: string) => text.replaceAll('|', '\\|')

/**
 * The README's table of every option, made from the options table (so the two cannot drift;
 * a test compares them).
 *
 * @example
 * ```ts
 * console.log(optionsMarkdownTable())
 * ```
 */
export function optionsMarkdownTable(): string {
  const rows = [
    '| option | type | default | env | description | vs. the Lua original |',
    '|---|---|---|---|---|---|',
  ]
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const spec: OptionSpec = OPTIONS[name]
    rows.push(
      `| \`${name}\` | ${typeOf(spec)} | ${defaultOf(spec)} | ${spec.env ? `\`${spec.env}\`` : ''} | ${escapeCell(spec.description)} | ${escapeCell(spec.compat ?? '')} |`,
    )
  }
  return rows.join('\n')
}
