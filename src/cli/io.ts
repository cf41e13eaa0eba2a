import { constants } from 'node:fs'
import { access, readFile, stat } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { UsageError } from './parse.js'

/** What a CLI command may touch, so that tests run it in-process with their own streams. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  readonly stdin: Readable & { isTTY?: boolean }
  readonly env: Readonly<Record<string, string | undefined>>
}

/** Reads a whole text input (a token) from a stream. */
export async function readText(stream: AsyncIterable<Uint8Array | string>): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk))
  return Buffer.concat(chunks).toString('utf8')
}

function unreadable(err: unknown): string {
  const code = (err as { code?: string }).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'is a folder, not a file'
  return code ?? (err as Error).message
}

/**
 * Checks that an input file named on the command line can be read, before any work starts:
 * one that cannot is a usage error naming the flag and the file (exit 2), not a bad token.
 *
 * @example
 * ```ts
 * await assertReadable('--body-file', 'body.json') // UsageError: --body-file body.json: no such file
 * ```
 */
export async function assertReadable(flag: string, file: string): Promise<void> {
  try {
    if ((await stat(file)).isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' })
    await access(file, constants.R_OK)
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${unreadable(err)}`)
  }
}

/** Reads a whole input file named on the command line; failures are usage errors naming it. */
export async function readInputFile(flag: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${unreadable(err)}`)
  }
}
