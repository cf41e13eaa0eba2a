/**
 * The CLI's parser: argv in, a command value out. No I/O and no exit here (help and version
 * text is returned as output), so every command line can be table-tested.
 * @module
 */
import { Command, CommanderError, Option } from 'commander'
import { DEFAULT_BODY_BUFFER_SIZE, DEFAULT_CLOCK_TOLERANCE_SECONDS } from '../core/defaults.js'
import { ConfigError, UsageError } from '../core/errors.js'
import type { KeygenOptions } from '../keygen/keygen.js'
import { resolveOptions } from '../options/resolve.js'
import type { SignerOptions } from '../options/table.js'
import type { SignOn } from '../signer/jws.js'
import {
  header,
  packageVersion,
  parseListen,
  parseSize,
  parseWorkers,
  positiveInteger,
  positiveOrZero,
} from './arguments.js'
import { addSignerFlags, flagName, signerOptionsFrom } from './signer-flags.js'

export { parseListen, parseSize } from './arguments.js'

/** A request described on the command line, for `sign`. */
export interface RequestInput {
  readonly method: string | undefined
  readonly url: string | undefined
  readonly service: string | undefined
  readonly consumerId: string | undefined
  readonly consumerName: string | undefined
  readonly consumerCustomId: string | undefined
  readonly headers: Readonly<Record<string, string>>
  /** A file to read the body from; `-` is standard input; undefined: stdin when piped. */
  readonly bodyFile: string | undefined
}

/** What the command line asked for. */
export type CliCommand =
  | { readonly kind: 'output'; readonly text: string; readonly exitCode: number }
  | { readonly kind: 'keygen'; readonly options: KeygenOptions; readonly json: boolean }
  | {
      readonly kind: 'sign'
      readonly signer: SignerOptions
      readonly request: RequestInput
      readonly json: boolean
    }
  | {
      readonly kind: 'inspect'
      readonly token: string | undefined
      readonly tokenFile: string | undefined
      readonly json: boolean
    }
  | { readonly kind: 'jwks'; readonly signer: SignerOptions }
  | { readonly kind: 'verify'; readonly input: VerifyInput; readonly json: boolean }
  | { readonly kind: 'gateway'; readonly input: GatewayInput }
  | {
      readonly kind: 'kong-install'
      readonly pluginsDir: string
      readonly link: boolean
      readonly pluginServer: string | undefined
    }
  | {
      readonly kind: 'kong-config'
      readonly pluginsDir: string
      readonly pluginServer: string | undefined
    }
  | { readonly kind: 'kong-doctor'; readonly input: KongDoctorInput; readonly json: boolean }

/** What `kong doctor` diagnoses, from the command line. */
export interface KongDoctorInput {
  readonly conf: string | undefined
  readonly user: string
  readonly kongVersion: string
  readonly nginxTemplate: string | undefined
}

/** How to run the gateway, from the command line. */
export interface GatewayInput {
  /** `kong.yml`; or `upstream` (quick mode); or `demo`. */
  readonly config: string | undefined
  readonly upstream: string | undefined
  readonly demo: boolean
  readonly stateDir: string | undefined
  readonly signer: SignerOptions
  readonly listen: { host: string; port: number } | undefined
  /** HTTPS listener and its default certificate (Kong's proxy_listen ssl, ssl_cert, ssl_cert_key). */
  readonly listenSsl: { host: string; port: number } | undefined
  readonly sslCert: string | undefined
  readonly sslKey: string | undefined
  /** Quick mode, https upstream: CA file to trust, client certificate and key, verification. */
  readonly upstreamCa: string | undefined
  readonly upstreamClientCert: string | undefined
  readonly upstreamClientKey: string | undefined
  readonly upstreamTlsVerify: boolean
  readonly adminListen: { host: string; port: number } | false | undefined
  readonly clientBodyBufferSize: number
  readonly clientMaxBodySize: number
  readonly logLevel: string
  /** Worker processes sharing the listener: a number, `auto` (one per core), or unset (the
   * default: `auto`, or 1 with `--demo`). */
  readonly workers: number | 'auto' | undefined
  /** Where signatures are computed (`auto`: see `signOnFor`; `own-core` is not a choice). */
  readonly signOn: Exclude<SignOn, 'own-core'>
}

/** What `verify` checks, from the command line. */
export interface VerifyInput {
  readonly token: string | undefined
  readonly tokenFile: string | undefined
  /** Body file; `-` is standard input; undefined: no body. */
  readonly bodyFile: string | undefined
  readonly ca: readonly string[]
  readonly cert: readonly string[]
  readonly jwks: string | undefined
  readonly issuer: string | undefined
  readonly audience: string | undefined
  readonly method: string | undefined
  readonly url: string | undefined
  readonly clockTolerance: number
  readonly maxTokenAge: number | undefined
  readonly legacyX5c: boolean
  readonly requireBinding: boolean
  readonly payloadHash: 'required' | 'optional'
  /** Request headers as received (`--header`), names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly signatureMode: 'jwt' | 'http-signature' | 'both'
  readonly signatureLabel: string
  /** Required `tag`; `false` for any. */
  readonly signatureTag: string | false
}

export { UsageError }

function keyFlags(command: Command): Command {
  return command
    .option('-k, --key <file>', 'private key file (private_key_location) [env KONG_SSL_CERT_KEY]')
    .option(
      '-c, --cert <file>',
      'certificate or chain file (public_key_location) [env KONG_SSL_CERT_DER]',
    )
}

function withKeys(parsed: Record<string, unknown>): SignerOptions {
  const options: Record<string, unknown> = { ...signerOptionsFrom(parsed) }
  if (parsed.key !== undefined) options.private_key_location = parsed.key
  if (parsed.cert !== undefined) options.public_key_location = parsed.cert
  // A flag's value outside its type or range is a usage error (exit 2), named by its flag.
  // Only the flags are checked here (no environment): a bad environment value is not a usage error.
  try {
    resolveOptions(options, { env: {} })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    const flag = `--${flagName(err.option)}`
    throw new UsageError(err.message.replace(`option "${err.option}"`, flag))
  }
  return options as SignerOptions
}

function program(set: (command: CliCommand) => void, out: { text: string }): Command {
  const root = new Command('kong-upstream-jwt')
    .description('Sign proxied requests with a JWT, and verify them upstream.')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        out.text += s
      },
      writeErr: (s) => {
        out.text += s
      },
    })
    .enablePositionalOptions()

  root
    .command('keygen')
    .description('make a private key and a certificate (self-signed, or issued by a new CA)')
    .requiredOption(
      '-o, --out <dir>',
      'folder to write key.pem, cert.cer, cert.pem, chain.pem into',
    )
    .addOption(
      new Option('--type <type>', 'key type').choices(['rsa', 'ec', 'ed25519']).default('rsa'),
    )
    .option('--bits <n>', 'RSA modulus length', positiveInteger, 2048)
    .addOption(
      new Option('--curve <curve>', 'EC curve')
        .choices(['P-256', 'P-384', 'P-521'])
        .default('P-256'),
    )
    .option('--ca', 'also make a CA (ca.pem, ca.key) and issue the certificate from it')
    .option('--subject <cn>', 'common name of the certificate', 'kong-upstream-jwt')
    .option('--days <n>', 'validity in days', positiveInteger, 365)
    .option('--force', 'overwrite existing files')
    .option('--json', 'print the files written as JSON')
    .action((o) => {
      if (o.type === 'rsa' && o.bits < 2048) throw new UsageError('--bits must be at least 2048')
      set({
        kind: 'keygen',
        json: o.json === true,
        options: {
          out: o.out,
          type: o.type,
          bits: o.bits,
          curve: o.curve,
          ca: o.ca === true,
          subject: o.subject,
          days: o.days,
          force: o.force === true,
        },
      })
    })

  addSignerFlags(
    keyFlags(
      root
        .command('sign')
        .description('print the header value (the signed token) for one request')
        .option(
          '--body-file <file>',
          'body to hash; "-" reads standard input (default: stdin when piped)',
        )
        .option('-X, --method <method>', 'request method (for bind_request and signatures)')
        .option(
          '--url <url>',
          'request URL as forwarded to the upstream (for bind_request and signatures)',
        )
        .option('--service <name>', 'Kong service name (the default audience)')
        .option('--consumer-id <id>', 'authenticated consumer id')
        .option('--consumer-name <name>', 'authenticated consumer username')
        .option('--consumer-custom-id <id>', 'authenticated consumer custom_id')
        .option(
          '-H, --request-header <name:value>',
          'a request header (repeatable), for headers_to_claims and the signed content-type',
          header,
        )
        .option('--json', 'print header name, value, token and claims as JSON'),
    ),
  ).action((o) => {
    set({
      kind: 'sign',
      json: o.json === true,
      signer: withKeys(o),
      request: {
        method: o.method,
        url: o.url,
        service: o.service,
        consumerId: o.consumerId,
        consumerName: o.consumerName,
        consumerCustomId: o.consumerCustomId,
        headers: o.requestHeader ?? {},
        bodyFile: o.bodyFile,
      },
    })
  })

  root
    .command('inspect')
    .description('decode a token WITHOUT verifying it: header, claims, x5c certificates')
    .argument('[token]', 'the token or header value ("Bearer " accepted); default: standard input')
    .option('--token-file <file>', 'read the token from a file')
    .option('--json', 'print JSON')
    .action((token: string | undefined, o) => {
      if (token !== undefined && o.tokenFile !== undefined) {
        throw new UsageError('give the token as an argument or with --token-file, not both')
      }
      set({ kind: 'inspect', token, tokenFile: o.tokenFile, json: o.json === true })
    })

  addSignerFlags(
    keyFlags(
      root
        .command('gateway')
        .description(
          'run the signing gateway: a reverse proxy that signs every request it forwards',
        )
        .option(
          '--config <kong.yml>',
          "Kong's declarative configuration (services, routes, plugins, consumers)",
        )
        .option(
          '--upstream <url>',
          'quick mode: one upstream for every path, signed with --key/--cert',
        )
        .option(
          '--demo',
          'throwaway keys, a built-in verifying upstream and the gateway in front (npm start)',
        )
        .option('--state <dir>', 'where --demo keeps its keys', undefined)
        .option(
          '--listen <host:port>',
          'proxy listener (default 0.0.0.0:8000; demo 127.0.0.1:8000)',
          parseListen,
        )
        .option(
          '--listen-ssl <host:port>',
          'HTTPS proxy listener (Kong proxy_listen ... ssl), with --ssl-cert and --ssl-key',
          parseListen,
        )
        .option('--ssl-cert <file>', 'default certificate (chain) of --listen-ssl (ssl_cert)')
        .option('--ssl-key <file>', 'its private key (ssl_cert_key)')
        .option(
          '--upstream-ca <file>',
          'quick mode: CA certificate(s) to trust for an https --upstream',
        )
        .option(
          '--upstream-client-cert <file>',
          'quick mode: client certificate (chain) presented to the upstream',
        )
        .option('--upstream-client-key <file>', 'its private key')
        .option(
          '--no-upstream-tls-verify',
          "quick mode: don't verify the upstream's certificate (tls_verify: false)",
        )
        .option(
          '--admin-listen <host:port|off>',
          'admin listener: /status, /metrics, JWKS (default 127.0.0.1:8001)',
          (v: string) => (v === 'off' ? false : parseListen(v)),
        )
        .option(
          '--client-body-buffer-size <size>',
          'body bytes kept in memory before spooling to disk',
          parseSize,
          DEFAULT_BODY_BUFFER_SIZE,
        )
        .option(
          '--client-max-body-size <size>',
          'largest body accepted, 413 beyond (0 = no limit)',
          parseSize,
          0,
        )
        .addOption(
          new Option('--log-level <level>', 'log level; warn drops the access log lines')
            .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
            .default('info'),
        )
        .option(
          '--workers <n|auto>',
          'worker processes sharing the listener (default auto = one per core; --demo: 1)',
          parseWorkers,
        )
        .addOption(
          new Option(
            '--sign-on <where>',
            'where signatures are computed: loop (the event loop), pool (libuv thread pool), auto (with a worker per core: keys up to RSA-2048 and Ed448 on the loop, slower ones on the pool; with a free core per worker: the pool; else ES256/Ed25519 on the loop, the rest on the pool)',
          )
            .choices(['auto', 'loop', 'pool'])
            .default('auto'),
        ),
    ),
  ).action((o) => {
    const modes = [o.config !== undefined, o.upstream !== undefined, o.demo === true].filter(
      Boolean,
    ).length
    if (modes !== 1)
      throw new UsageError(
        'give exactly one of --config kong.yml, --upstream URL (with --key/--cert) or --demo',
      )
    if (o.demo === true && o.listenSsl !== undefined)
      throw new UsageError('--listen-ssl is for --config or --upstream, not --demo')
    if ((o.listenSsl === undefined) !== (o.sslCert === undefined || o.sslKey === undefined))
      throw new UsageError('--listen-ssl, --ssl-cert and --ssl-key go together')
    if ((o.upstreamClientCert === undefined) !== (o.upstreamClientKey === undefined))
      throw new UsageError('--upstream-client-cert and --upstream-client-key go together')
    const upstreamTls =
      o.upstreamCa !== undefined ||
      o.upstreamClientCert !== undefined ||
      o.upstreamTlsVerify === false
    if (upstreamTls && !(typeof o.upstream === 'string' && o.upstream.startsWith('https:')))
      throw new UsageError(
        '--upstream-ca, --upstream-client-cert/-key and --no-upstream-tls-verify need an https --upstream (in kong.yml: the service fields)',
      )
    set({
      kind: 'gateway',
      input: {
        config: o.config,
        upstream: o.upstream,
        demo: o.demo === true,
        stateDir: o.state,
        signer: withKeys(o),
        listen: o.listen,
        listenSsl: o.listenSsl,
        sslCert: o.sslCert,
        sslKey: o.sslKey,
        upstreamCa: o.upstreamCa,
        upstreamClientCert: o.upstreamClientCert,
        upstreamClientKey: o.upstreamClientKey,
        upstreamTlsVerify: o.upstreamTlsVerify !== false,
        adminListen: o.adminListen,
        clientBodyBufferSize: o.clientBodyBufferSize,
        clientMaxBodySize: o.clientMaxBodySize,
        logLevel: o.logLevel,
        workers: o.workers,
        signOn: o.signOn,
      },
    })
  })

  const kong = root
    .command('kong')
    .description('run the plugin inside Kong Gateway (JavaScript plugin server)')
  kong
    .command('install')
    .description(
      'write the plugin file kong-js-pluginserver loads (self-contained), and print the Kong settings',
    )
    .requiredOption('--plugins-dir <dir>', "the plugin server's --plugins-directory")
    .option(
      '--link',
      'write a one-line require of the installed package instead, so package updates reach Kong',
    )
    .option(
      '--pluginserver <path>',
      'kong-js-pluginserver to name (default: found on PATH or npm -g)',
    )
    .action((o) =>
      set({
        kind: 'kong-install',
        pluginsDir: o.pluginsDir,
        link: o.link === true,
        pluginServer: o.pluginserver,
      }),
    )
  kong
    .command('config')
    .description('print the kong.conf lines only')
    .option(
      '--plugins-dir <dir>',
      "the plugin server's --plugins-directory",
      '/usr/local/kong/js-plugins',
    )
    .option(
      '--pluginserver <path>',
      'kong-js-pluginserver to name (default: found on PATH or npm -g)',
    )
    .action((o) =>
      set({ kind: 'kong-config', pluginsDir: o.pluginsDir, pluginServer: o.pluginserver }),
    )
  kong
    .command('doctor')
    .description(
      "check a Kong node's setup for this plugin (kong.conf, KONG_* variables, declarative config, keys)",
    )
    .option('--conf <file>', 'kong.conf (default: /etc/kong/kong.conf, then /etc/kong.conf)')
    .option('--user <name>', "the user Kong's nginx workers run as (nginx_user)", 'kong')
    .option('--kong-version <version>', "Kong's version", '3.9')
    .option('--nginx-template <file>', 'the custom nginx template given to kong start --nginx-conf')
    .option('--json', 'print { ok, checks: [{ name, ok, message, fix }] }')
    .action((o) => {
      if (!/^\d+\.\d+(\.\d+)?$/.test(o.kongVersion)) {
        throw new UsageError(`--kong-version "${o.kongVersion}" is not a version like 3.9 or 3.9.1`)
      }
      set({
        kind: 'kong-doctor',
        json: o.json === true,
        input: {
          conf: o.conf,
          user: o.user,
          kongVersion: o.kongVersion,
          nginxTemplate: o.nginxTemplate,
        },
      })
    })

  const collect = (value: string, previous: string[] = []) => [...previous, value]
  root
    .command('verify')
    .description(
      'verify a token as an upstream would: signature, trust, claims, body hash, binding',
    )
    .option('--token <token>', 'the token or header value ("Bearer " accepted)')
    .option('--token-file <file>', 'read the token from a file (default: standard input)')
    .option('--body-file <file>', 'the body received; "-" reads standard input (default: no body)')
    .option(
      '--ca <pem>',
      'CA bundle: the x5c chain must lead to one of its certificates (repeatable)',
      collect,
    )
    .option('--cert <pem>', 'pinned certificate or public key (repeatable)', collect)
    .option('--jwks <file|url>', 'JWK Set to find the key by kid')
    .option('--issuer <iss>', 'expected issuer')
    .option('--audience <aud>', 'expected audience')
    .option('-X, --method <method>', 'request method, for htm and @method')
    .option('--url <url>', 'absolute request URL, for htu, htq and @target-uri')
    .option(
      '-H, --header <name:value>',
      'a request header as received (repeatable): Signature-Input, Signature, Content-Digest, Content-Type, the JWT',
      header,
    )
    .addOption(
      new Option('--signature-mode <mode>', 'what proves the request (as the signer)')
        .choices(['jwt', 'http-signature', 'both'])
        .default('jwt'),
    )
    .option('--signature-label <label>', 'label of the HTTP Message Signature', 'sig1')
    .option(
      '--signature-tag <tag>',
      'required tag of the HTTP Message Signature; "" accepts any',
      'kong-upstream-jwt',
    )
    .option(
      '--clock-tolerance <seconds>',
      'leeway for exp, nbf and iat',
      positiveOrZero,
      DEFAULT_CLOCK_TOLERANCE_SECONDS,
    )
    .option(
      '--max-token-age <seconds>',
      "refuse tokens issued longer ago (the JWT's iat, a signature's created)",
      positiveOrZero,
    )
    .option('--legacy-x5c', "accept the original plugin's base64url x5c")
    .option('--require-binding', 'demand htm/htu/htq')
    .addOption(
      new Option('--payload-hash <mode>', 'payloadhash claim')
        .choices(['required', 'optional'])
        .default('required'),
    )
    .option('--json', 'print { valid, code, claims } as JSON')
    .action((o) => {
      const headers: Record<string, string> = o.header ?? {}
      const given = [o.token, o.tokenFile].filter((v) => v !== undefined).length
      if (given > 1) throw new UsageError('give the token with --token or --token-file, not both')
      const needsToken = o.signatureMode !== 'http-signature' && headers.jwt === undefined
      if (needsToken && given === 0 && o.bodyFile === '-') {
        throw new UsageError('standard input cannot hold both the token and the body')
      }
      if (!o.ca && !o.cert && !o.jwks)
        throw new UsageError('give a trust source: --ca, --cert or --jwks')
      set({
        kind: 'verify',
        json: o.json === true,
        input: {
          token: o.token,
          tokenFile: o.tokenFile,
          bodyFile: o.bodyFile,
          ca: o.ca ?? [],
          cert: o.cert ?? [],
          jwks: o.jwks,
          issuer: o.issuer,
          audience: o.audience,
          method: o.method,
          url: o.url,
          clockTolerance: o.clockTolerance,
          maxTokenAge: o.maxTokenAge,
          legacyX5c: o.legacyX5c === true,
          requireBinding: o.requireBinding === true,
          payloadHash: o.payloadHash,
          headers,
          signatureMode: o.signatureMode,
          signatureLabel: o.signatureLabel,
          signatureTag: o.signatureTag === '' ? false : o.signatureTag,
        },
      })
    })

  addSignerFlags(
    keyFlags(
      root.command('jwks').description('print the JSON Web Key Set of a key and certificate'),
    ),
  ).action((o) => set({ kind: 'jwks', signer: withKeys(o) }))

  return root
}

/**
 * Parses a command line (without the `node` and script entries).
 *
 * @example
 * ```ts
 * parseCli(['keygen', '--out', 'keys', '--type', 'ec'])
 * // { kind: 'keygen', json: false, options: { out: 'keys', type: 'ec', … } }
 * ```
 * @throws {UsageError}
 */
export function parseCli(argv: readonly string[]): CliCommand {
  const out = { text: '' }
  let command: CliCommand | undefined
  const root = program((c) => {
    command = c
  }, out)
  if (argv.length === 0) {
    root.outputHelp()
    return { kind: 'output', text: out.text, exitCode: 2 }
  }
  try {
    root.parse([...argv], { from: 'user' })
  } catch (err) {
    if (err instanceof UsageError) throw err
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return { kind: 'output', text: out.text, exitCode: 0 }
      throw new UsageError(out.text.trim() || err.message)
    }
    throw err
  }
  if (!command) return { kind: 'output', text: out.text, exitCode: 0 }
  return command
}
