/**
 * The CLI's runner: the one place that does I/O for a command line and decides the exit code
 * (0 ok, 1 failed, 2 usage). `runCli` is the only caller of `process.exit`.
 * @module
 */
import { UpstreamJwtError } from '../core/errors.js'
import type { CliIo } from './io.js'
import { type CliCommand, parseCli, UsageError } from './parse.js'

/** Exit codes of every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

/** The lowest Node the commands other than `kong` run on (undici 7 needs it). */
export const FULL_NODE = [20, 18, 1] as const

function nodeAtLeast(
  wanted: readonly [number, number, number],
  have = process.versions.node,
): boolean {
  const v = have.split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    if ((v[i] ?? 0) !== wanted[i]) return (v[i] ?? 0) > wanted[i]!
  }
  return true
}

/**
 * Commands are loaded when run: the `kong` commands must work on the Node that Kong images
 * install (18.19), where the gateway's HTTP client (undici 7) cannot even be loaded.
 */
async function execute(command: CliCommand, io: CliIo): Promise<number> {
  if (command.kind !== 'output' && !command.kind.startsWith('kong-') && !nodeAtLeast(FULL_NODE)) {
    throw new UpstreamJwtError(
      'ERR_NODE_UNSUPPORTED',
      `this command needs Node >= ${FULL_NODE.join('.')} (this is ${process.versions.node}); the kong commands and the Kong plugin file run on Node >= 18.19`,
    )
  }
  switch (command.kind) {
    case 'output':
      io.stdout.write(command.text)
      return command.exitCode
    case 'keygen':
      return (await import('./commands/keygen.js')).keygenCommand(command.options, command.json, io)
    case 'sign':
      return (await import('./commands/sign.js')).signCommand(
        command.signer,
        command.request,
        command.json,
        io,
      )
    case 'inspect':
      return (await import('./commands/inspect.js')).inspectCommand(
        command.token,
        command.tokenFile,
        command.json,
        io,
      )
    case 'jwks':
      return (await import('./commands/jwks.js')).jwksCommand(command.signer, io)
    case 'verify':
      return (await import('./commands/verify.js')).verifyCommand(command.input, command.json, io)
    case 'gateway':
      return (await import('./commands/gateway.js')).gatewayCommand(command.input, io)
    case 'kong-install':
      return (await import('./commands/kong.js')).kongInstallCommand(
        command.pluginsDir,
        command.link,
        command.pluginServer,
        io,
      )
    case 'kong-config':
      return (await import('./commands/kong.js')).kongConfigCommand(
        command.pluginsDir,
        command.pluginServer,
        io,
      )
    case 'kong-doctor':
      return (await import('./commands/kong.js')).kongDoctorCommand(command.input, command.json, io)
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
