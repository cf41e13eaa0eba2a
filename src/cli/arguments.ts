/**
 * Parsers for single command-line values (sizes, listen addresses, counts, headers). Each throws
 * commander's InvalidArgumentError, which the parser turns into a usage error.
 * @module
 */
import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from 'commander'

export function packageVersion(): string {
  // Two levels up from both src/cli and dist/cli.
  const pkg = readFileSync(new URL('../../package.json', import.meta.url), 'utf8')
  return (JSON.parse(pkg) as { version: string }).version
}

export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError('must be a positive integer')
  }
  return Number(value)
}

/** A worker count, or `auto` (one per core). */
export function parseWorkers(value: string): number | 'auto' {
  if (value === 'auto') return 'auto'
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 256) {
    throw new InvalidArgumentError('must be a number from 1 to 256, or auto')
  }
  return Number(value)
}

/** `8k`, `1m`, `2g` or a plain byte count (nginx's size syntax). */
export function parseSize(value: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(value.trim())
  if (!m) throw new InvalidArgumentError('must be a size like 8k, 1m or 1048576')
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    (m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'
  ]
  return Number(m[1]) * unit
}

/** `HOST:PORT`, `:PORT` or `PORT`. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(value.trim())
  const port = Number(m?.[2])
  if (!m || port > 65535) throw new InvalidArgumentError('must be HOST:PORT')
  return { host: (m[1] || '0.0.0.0').replace(/^\[|\]$/g, ''), port }
}

export function positiveOrZero(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number of seconds')
  return Number(value)
}

export function header(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const colon = value.indexOf(':')
  if (colon <= 0) throw new InvalidArgumentError('must be NAME:VALUE')
  const name = value.slice(0, colon).trim().toLowerCase()
  const existing = previous[name]
  const next = value.slice(colon + 1).trim()
  return { ...previous, [name]: existing === undefined ? next : `${existing}, ${next}` }
}
