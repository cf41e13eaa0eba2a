/** Reading examples/kong/Dockerfile, so that tests run what it runs. */
import assert from 'node:assert/strict'

/** The Dockerfile's ENV instructions as variables (continuation lines, quoted values). */
export function dockerfileEnv(text: string): Record<string, string> {
  const joined = text.replace(/\\\n/g, ' ')
  const env: Record<string, string> = {}
  for (const line of joined.split('\n')) {
    const m = /^ENV\s+(.*)$/.exec(line.trim())
    if (!m) continue
    for (const pair of (m[1] as string).matchAll(/([A-Z0-9_]+)=("([^"]*)"|\S+)/g))
      env[pair[1] as string] = pair[3] ?? (pair[2] as string)
  }
  return env
}

/** The Dockerfile's plugin step: the RUN instruction that runs `kong install`. */
export function dockerfilePluginStep(text: string): string {
  const run = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .find((l) => l.startsWith('RUN ') && l.includes('kong install'))
  assert.ok(run, 'the Dockerfile has a RUN step with kong install')
  return run.slice(4).replace(/\s+/g, ' ').trim()
}
