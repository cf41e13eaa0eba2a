/**
 * The CLI's runner: the one place that does I/O for a command line and decides the exit code
 * (0 ok, 1 failed, 2 usage). `runCli` is the only caller of `process.exit`.
 * @module
 */
import { UpstreamJwtError } from '../core/errors.js'
import { gatewayCommand } from './commands/gateway.js'
import { inspectCommand } from './commands/inspect.js'
import { jwksCommand } from './commands/jwks.js'
import { keygenCommand } from './commands/keygen.js'
import { kongConfText, kongInstallCommand } from './commands/kong.js'
import { signCommand } from './commands/sign.js'
import { verifyCommand } from './commands/verify.js'
import type { CliIo } from './io.js'
import { type CliCommand, parseCli, UsageError } from './parse.js'

/** Exit codes of every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

function execute(command: CliCommand, io: CliIo): Promise<number> {
  switch (command.kind) {
    case 'output':
      io.stdout.write(command.text)
      return Promise.resolve(command.exitCode)
    case 'keygen':
      return keygenCommand(command.options, command.json, io)
    case 'sign':
      return signCommand(command.signer, command.request, command.json, io)
    case 'inspect':
      return inspectCommand(command.token, command.tokenFile, command.json, io)
    case 'jwks':
      return jwksCommand(command.signer, io)
    case 'verify':
      return verifyCommand(command.input, command.json, io)
    case 'gateway':
      return gatewayCommand(command.input, io)
    case 'kong-install':
      return kongInstallCommand(command.pluginsDir, io)
    case 'kong-config':
      io.stdout.write(kongConfText(command.pluginsDir))
      return Promise.resolve(0)
  }
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json')
}

/**
 * Runs a command line and resolves its exit code; never exits the process. Errors are
 * reported on stderr (or as JSON on stdout with `--json`) by code and message only.
 *
 * @example
 * ```ts
 * const code = await run(['inspect', token], { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env })
 * ```
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await execute(parseCli(argv), io)
  } catch (err) {
    const usage = err instanceof UsageError
    const code = err instanceof UpstreamJwtError ? err.code : 'ERR_INTERNAL'
    const message = err instanceof Error ? err.message : String(err)
    if (wantsJson(argv)) {
      // `verify --json` promises { valid, code } for every outcome, usage errors included.
      const valid = argv[0] === 'verify' ? { valid: false } : {}
      io.stdout.write(`${JSON.stringify({ ok: false, ...valid, code, message })}\n`)
    } else {
      io.stderr.write(`kong-upstream-jwt: ${usage ? message : `${code}: ${message}`}\n`)
    }
    if (!(err instanceof UpstreamJwtError) && io.env.DEBUG)
      io.stderr.write(`${(err as Error)?.stack}\n`)
    return usage ? EXIT.usage : EXIT.failed
  }
}

/**
 * Runs the process's command line and sets its exit code. The code is set rather than
 * `process.exit()` called, so that output piped to another program is flushed first.
 */
export async function runCli(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  process.exitCode = await run(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  })
}
