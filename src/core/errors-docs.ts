import { ERRORS, type ErrorCode } from './errors.js'

/**
 * The README's error table, one row per code, made from `ERRORS` (so the two cannot drift;
 * a test compares them).
 *
 * @example
 * ```ts
 * console.log(errorsMarkdownTable())
 * ```
 */
export function errorsMarkdownTable(): string {
  const rows = ['| code | status | class | meaning |', '|---|---|---|---|']
  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const spec = ERRORS[code]
    rows.push(
      `| \`${code}\` | ${spec.status} | \`${spec.class}\` | ${spec.description.replaceAll('|', '\\|')} |`,
    )
  }
  return rows.join('\n')
}
