// Bundles the Kong plugin to one self-contained CommonJS file: Kong's plugin server loads
// plugins with require(), and `kong install` copies this file alone into the plugins
// directory, so it may require nothing but Node's built-in modules. Node 18 is the target:
// the nodejs that Ubuntu 24.04 (the base of the kong:3.9 image) installs is 18.19.

import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The first line of the bundle; `kong install` and `kong doctor` read the version from it. */
export function bundleBanner(version) {
  return `// kong-upstream-jwt ${version}: Kong plugin for kong-js-pluginserver, self-contained (requires only Node >= 18.19 built-ins).`
}

/** Builds the plugin bundle to `outfile` (default dist/kong/plugin.cjs). */
export async function buildKongPlugin(outfile = `${root}dist/kong/plugin.cjs`) {
  const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'))
  const result = await build({
    entryPoints: [`${root}src/kong/entry.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18.19',
    banner: { js: bundleBanner(version) },
    define: { KONG_UPSTREAM_JWT_VERSION: JSON.stringify(version) },
    metafile: true,
    logLevel: 'warning',
  })
  // Every import must be inside the file: an image copies it without node_modules.
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]))
  const outside = Object.values(result.metafile.outputs)
    .flatMap((o) => o.imports)
    .filter((i) => i.external && !builtins.has(i.path))
  if (outside.length > 0) {
    throw new Error(`plugin bundle requires modules outside it: ${outside.map((i) => i.path)}`)
  }
  return outfile
}

/**
 * Writes the types of `require('kong-upstream-jwt/kong')` (dist/kong/entry.d.cts) from tsc's
 * declaration of src/kong/entry.ts: the same names, read as CommonJS. Type imports of the
 * package's ES modules say so (`resolution-mode`), which a CommonJS declaration needs.
 */
export function writeKongTypes(dir = `${root}dist/kong`) {
  const esm = `${dir}/entry.d.ts`
  if (!existsSync(esm)) throw new Error(`${esm} is missing: run tsc first`)
  const cjs = readFileSync(esm, 'utf8')
    .replace(/^\/\/# sourceMappingURL=.*$/m, '')
    .replace(
      /^import \{([^}]*)\} from '(\.\/[^']+)';$/gm,
      "import type {$1} from '$2' with { 'resolution-mode': 'import' };",
    )
    .replace(
      /^export type \{([^}]*)\} from '(\.\/[^']+)';$/gm,
      "import type {$1} from '$2' with { 'resolution-mode': 'import' };\nexport type {$1};",
    )
    .replace(/import\("(\.\/[^"]+)"\)/g, `import("$1", { with: { 'resolution-mode': 'import' } })`)
  writeFileSync(`${dir}/entry.d.cts`, cjs)
  return `${dir}/entry.d.cts`
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`built ${await buildKongPlugin()} and ${writeKongTypes()}`)
}
