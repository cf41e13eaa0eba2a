import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The checked-in conformance vectors (`npm run vectors`). */
export const VECTORS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../vectors')

/** One vector file, as vectors/schema.json describes it. */
export interface ConformanceVector {
  readonly name: string
  readonly description: string
  readonly token: string
  readonly body_base64: string
  readonly request: { readonly method: string; readonly url: string } | null
  readonly policy: {
    readonly ca: string
    readonly audience: string | readonly string[] | null
    readonly issuer: string | null
    readonly clock_tolerance: number
    readonly legacy_x5c: boolean
  }
  readonly now: number
  readonly expected: 'valid' | 'invalid'
  readonly error: string | null
  readonly check: string | null
}

export interface VectorFile {
  readonly file: string
  readonly vector: ConformanceVector
}

/** Every vector file, sorted by name. */
export function loadVectors(): VectorFile[] {
  return readdirSync(VECTORS_DIR)
    .filter((f) => f.endsWith('.json') && f !== 'schema.json')
    .sort()
    .map((f) => {
      const file = join(VECTORS_DIR, f)
      return { file, vector: JSON.parse(readFileSync(file, 'utf8')) as ConformanceVector }
    })
}
