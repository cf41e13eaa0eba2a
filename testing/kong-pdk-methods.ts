/**
 * The PDK methods Kong has, as the plugin server names them on the wire (`kong.request.get_method`),
 * read from the TypeScript typings kong-pdk generates from Kong's PDK (`kong/**\/*.d.ts`, "AUTO
 * GENERATED BASED ON Kong 3.x"). The typings are parsed with the TypeScript compiler, not with
 * patterns: one interface per file, one method signature per PDK function.
 */
import { readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, sep } from 'node:path'
import ts from 'typescript'

const require = createRequire(import.meta.url)

/** kong-pdk's own rule (pdk.js) for turning `getRawQuery` into `get_raw_query`. */
export function wireName(name: string): string {
  return name.replace(/[a-z][A-Z]/g, (s) => `${s[0]}_${s[1]}`.toLowerCase())
}

async function load(): Promise<ReadonlySet<string>> {
  const root = join(dirname(require.resolve('kong-pdk/package.json')), 'kong')
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.d.ts'))
  const methods = new Set<string>()
  for (const file of files) {
    const parts = file.slice(0, -'.d.ts'.length).split(sep)
    if (parts.at(-1) === 'index') parts.pop()
    const namespace = ['kong', ...parts].join('.')
    const source = ts.createSourceFile(
      file,
      await readFile(join(root, file), 'utf8'),
      ts.ScriptTarget.Latest,
    )
    for (const statement of source.statements) {
      if (!ts.isInterfaceDeclaration(statement)) continue
      for (const member of statement.members) {
        if (ts.isMethodSignature(member) && member.name && ts.isIdentifier(member.name))
          methods.add(`${namespace}.${wireName(member.name.text)}`)
      }
    }
  }
  if (methods.size < 50) throw new Error(`kong-pdk typings: only ${methods.size} methods found`)
  return methods
}

let cached: Promise<ReadonlySet<string>> | undefined

/** Every PDK method Kong has (loaded once). */
export function kongPdkMethods(): Promise<ReadonlySet<string>> {
  cached ??= load()
  return cached
}
