// Bundles the Kong plugin to one CommonJS file: Kong's plugin server loads plugins with
// require(), which cannot load this package's ES modules on every Node version we support.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Builds the plugin bundle to `outfile` (default dist/kong/plugin.cjs). */
export async function buildKongPlugin(outfile = `${root}dist/kong/plugin.cjs`) {
  const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'))
  await build({
    entryPoints: [`${root}src/kong/entry.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    define: { KONG_UPSTREAM_JWT_VERSION: JSON.stringify(version) },
    logLevel: 'warning',
  })
  return outfile
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`built ${await buildKongPlugin()}`)
}
