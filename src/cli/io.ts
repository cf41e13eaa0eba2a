import type { Readable } from 'node:stream'

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
