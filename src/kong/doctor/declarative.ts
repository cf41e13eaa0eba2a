/**
 * The `kong-upstream-jwt` entries of a DB-less declarative config (kong.yml or JSON): at the
 * top level and under services, routes and consumers, where Kong allows plugins.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { NAME } from '../plugin.js'

/** One plugin entry, with where it sits for messages. */
export interface PluginEntryRef {
  /** e.g. `plugins[0]` or `services[orders].routes[1].plugins[0]`. */
  readonly where: string
  readonly config: Record<string, unknown>
  readonly enabled: boolean
}

type Node = Record<string, unknown>

const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v)

function label(item: Node, index: number): string {
  const name = item.name ?? item.username ?? item.id
  return typeof name === 'string' ? name : String(index)
}

function collect(node: Node, path: string, out: PluginEntryRef[]): void {
  const plugins = Array.isArray(node.plugins) ? node.plugins : []
  plugins.forEach((p, i) => {
    if (isObject(p) && p.name === NAME) {
      out.push({
        where: `${path}plugins[${i}]`,
        config: isObject(p.config) ? p.config : {},
        enabled: p.enabled !== false,
      })
    }
  })
  for (const kind of ['services', 'routes', 'consumers']) {
    const items = Array.isArray(node[kind]) ? (node[kind] as unknown[]) : []
    items.forEach((item, i) => {
      if (isObject(item)) collect(item, `${path}${kind}[${label(item, i)}].`, out)
    })
  }
}

/** Reads a declarative config file and returns its kong-upstream-jwt entries. */
export async function pluginEntries(file: string): Promise<PluginEntryRef[]> {
  const doc: unknown = parse(await readFile(file, 'utf8'))
  if (!isObject(doc)) throw new Error(`${file} is not a mapping`)
  const out: PluginEntryRef[] = []
  collect(doc, '', out)
  return out
}
