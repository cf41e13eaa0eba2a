/**
 * The public names of every entry point in package.json's `exports`, values and types alike,
 * read with the TypeScript checker. A new export (or a new entry point) fails this test until it
 * is added here: making something public is a decision, not a side effect of an `export`.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import ts from 'typescript'

const PUBLIC: Record<string, string[]> = {
  '.': [
    'ALGORITHMS',
    'Algorithm',
    'AlgorithmNotAllowedError',
    'BindingMismatchError',
    'BodyDigest',
    'BodyError',
    'BodyHashMismatchError',
    'CertificateError',
    'ClaimInvalidError',
    'ComponentNotCoveredError',
    'ConfigError',
    'ConsumerRef',
    'DigestOptions',
    'ERRORS',
    'EntityRef',
    'ErrorCode',
    'ErrorSpec',
    'GatewayConfigError',
    'HttpSignatureHeaders',
    'IssuedToken',
    'JsonValue',
    'JsonWebKeySet',
    'KeyError',
    'OPTIONS',
    'OptionName',
    'PublicJwk',
    'RequestFacts',
    'ResolveContext',
    'ResolvedOptions',
    'SignOn',
    'SignatureInvalidError',
    'SignedRequest',
    'Signer',
    'SignerContext',
    'SignerLogger',
    'SignerOptions',
    'SigningError',
    'SpoolOptions',
    'SpooledBody',
    'TokenExpiredError',
    'TokenFormatError',
    'TokenMissingError',
    'TokenNotYetValidError',
    'TokenReplayedError',
    'UpstreamClaims',
    'UpstreamError',
    'UpstreamJwtError',
    'UsageError',
    'VerificationError',
    'VerifierUnavailableError',
    'createSigner',
    'digestBytes',
    'digestStream',
    'resolveOptions',
    'spoolBody',
  ],
  './verify': [
    'Algorithm',
    'AlgorithmNotAllowedError',
    'Audience',
    'BindingMismatchError',
    'BodyHashMismatchError',
    'CertificateError',
    'ClaimInvalidError',
    'ClaimsPolicy',
    'ComponentNotCoveredError',
    'DecodedToken',
    'JwksOptions',
    'MemoryReplayStore',
    'RedisLike',
    'RedisReplayStore',
    'RedisReplayStoreOptions',
    'ReplayStore',
    'SignatureInvalidError',
    'TokenExpiredError',
    'TokenFormatError',
    'TokenMissingError',
    'TokenNotYetValidError',
    'TokenReplayedError',
    'TrustOptions',
    'VerificationError',
    'VerifiedHttpSignature',
    'VerifiedToken',
    'Verifier',
    'VerifierCommonOptions',
    'VerifierOptions',
    'VerifierUnavailableError',
    'VerifyRequest',
    'createVerifier',
    'decodeToken',
  ],
  './node': [
    'NodeAdapterOptions',
    'NodeMiddleware',
    'RequestWithUpstreamJwt',
    'UpstreamJwtFields',
    'bodyOf',
    'rawBodyOf',
    'upstreamJwt',
    'upstreamJwtOf',
  ],
  './express': ['captureRawBody', 'rawBodyOf', 'upstreamJwt'],
  './fastify': ['FastifyAdapterOptions', 'fastifyUpstreamJwt'],
  './koa': ['KoaAdapterOptions', 'koaUpstreamJwt'],
  './hono': ['HonoAdapterOptions', 'honoUpstreamJwt'],
  './gateway': [
    'Demo',
    'DemoOptions',
    'Gateway',
    'GatewayConfig',
    'GatewayConfigError',
    'GatewayOptions',
    'ListenAddress',
    'PathHandling',
    'RouteMatch',
    'Router',
    'SignOn',
    'UpstreamPathRule',
    'kongUpstreamAuthority',
    'kongUpstreamPath',
    'loadConfigFile',
    'parseConfig',
    'startDemo',
    'startGateway',
    'sweepArrayBuffersInline',
  ],
  // What require('kong-upstream-jwt/kong') returns (the plugin module kong-pdk loads).
  './kong': [
    'KongConsumer',
    'KongPdk',
    'KongService',
    'Name',
    'Plugin',
    'Priority',
    'Schema',
    'Version',
  ],
}

/** package.json `exports` → the TypeScript source behind each entry's types. */
function entryPoints(): Record<string, string> {
  const root = new URL('../', import.meta.url)
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
    exports: Record<string, string | { types: string }>
  }
  const out: Record<string, string> = {}
  for (const [name, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue // ./package.json
    const source = target.types.replace(/^\.\/dist\//, 'src/').replace(/\.d\.c?ts$/, '.ts')
    out[name] = new URL(source, root).pathname
  }
  return out
}

test('every entry point exports exactly its listed public names (values and types)', () => {
  const entries = entryPoints()
  assert.deepEqual(Object.keys(entries).sort(), Object.keys(PUBLIC).sort(), 'entry points')
  const program = ts.createProgram(Object.values(entries), {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
  })
  const checker = program.getTypeChecker()
  for (const [name, file] of Object.entries(entries)) {
    const source = program.getSourceFile(file)
    assert.ok(source, `${name}: ${file} not found`)
    const module = checker.getSymbolAtLocation(source)
    assert.ok(module, `${name}: not a module`)
    const exported = checker
      .getExportsOfModule(module)
      .map((s) => s.name)
      .sort()
    assert.deepEqual(exported, [...(PUBLIC[name] ?? [])].sort(), `public names of ${name}`)
  }
})
