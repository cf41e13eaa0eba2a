/**
 * Finds a member name that appears twice in one JSON object. `JSON.parse` keeps the last one
 * silently; a verifier must not (RFC 7515 §5.2 step 4, RFC 8725 §3.12): two parsers could
 * read different claims from the same signed bytes.
 *
 * @example
 * ```ts
 * duplicateMember('{"a":1,"a":2}') // 'a'
 * ```
 * @returns the first duplicated name, or undefined. The input must be valid JSON.
 */
export function duplicateMember(json: string): string | undefined {
  const stack: (Set<string> | null)[] = []
  let expectKey = false
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (c === 0x7b /* { */) {
      stack.push(new Set())
      expectKey = true
    } else if (c === 0x5b /* [ */) {
      stack.push(null)
      expectKey = false
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop()
      expectKey = false
    } else if (c === 0x2c /* , */) {
      expectKey = stack.at(-1) instanceof Set
    } else if (c === 0x22 /* " */) {
      let j = i + 1
      while (json.charCodeAt(j) !== 0x22) j += json.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1
      if (expectKey) {
        const name = JSON.parse(json.slice(i, j + 1)) as string
        const members = stack.at(-1) as Set<string>
        if (members.has(name)) return name
        members.add(name)
        expectKey = false
      }
      i = j
    }
  }
  return undefined
}
