import { spawn } from 'node:child_process'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { CliIo } from '../../src/cli/io.js'
import { run } from '../../src/cli/run.js'
import type { Pki } from '../../testing/pki.js'

/** `sign` with the test PKI's leaf key and chain, then `more`: how the CLI tests start a sign line. */
export function signArgs(pki: Pki, ...more: string[]): string[] {
  return ['sign', '-k', pki.files.key, '-c', pki.files.chain, ...more]
}

/** Runs the CLI in-process with captured output; `stdin` is piped content or a terminal. */
export async function cli(
  argv: string[],
  options: { stdin?: string | Buffer; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const stdin = Object.assign(
    Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    {
      isTTY: options.stdin === undefined,
    },
  )
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin,
    env: options.env ?? {},
  }
  const code = await run(argv, io)
  return { code, stdout, stderr }
}

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

/** Runs the CLI as a real process (through tsx, from the sources). */
export function cliProcess(
  argv: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...argv], {
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(options.stdin ?? '')
  })
}
