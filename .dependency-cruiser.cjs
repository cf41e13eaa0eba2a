// The layers of src/ (README, "Development"), checked by `npm run lint:layers` (part of `npm run lint`).
// Arrows run downhill only:
//
//   cli      → anything
//   kong     → signer, options, core
//   gateway  → signer, options, core; verify and keygen from demo.ts only
//   verify   → options, core            (never signer)
//   signer   → options, core
//   keygen   → core
//   options  → core
//   core     → nothing of ours
//   bench, testing → never test/
//
// Type-only imports count: a type is as much of an arrow as a value.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing-of-ours',
      comment: 'src/core is the ground floor: it imports nothing else of ours.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'options-stand-on-core',
      comment: 'src/options imports src/core only.',
      severity: 'error',
      from: { path: '^src/options/' },
      to: { path: '^src/', pathNot: '^src/(core|options)/' },
    },
    {
      name: 'signer-stands-on-core-and-options',
      comment: 'src/signer imports src/core and src/options only.',
      severity: 'error',
      from: { path: '^src/signer/' },
      to: { path: '^src/', pathNot: '^src/(core|options|signer)/' },
    },
    {
      name: 'verifier-never-imports-signer',
      comment: 'src/verify imports src/core and src/options only: never the signer.',
      severity: 'error',
      from: { path: '^src/verify/' },
      to: { path: '^src/', pathNot: '^src/(core|options|verify)/' },
    },
    {
      name: 'keygen-stands-on-core',
      comment: 'src/keygen imports src/core only.',
      severity: 'error',
      from: { path: '^src/keygen/' },
      to: { path: '^src/', pathNot: '^src/(core|keygen)/' },
    },
    {
      name: 'kong-stands-on-signer',
      comment: 'The Kong plugin imports the signer, options and core: never the gateway or CLI.',
      severity: 'error',
      from: { path: '^src/kong/' },
      to: { path: '^src/', pathNot: '^src/(core|options|signer|kong)/' },
    },
    {
      name: 'gateway-never-imports-kong-or-cli',
      comment: 'The gateway and Kong never import each other; nothing but the CLI imports the CLI.',
      severity: 'error',
      from: { path: '^src/gateway/' },
      to: { path: '^src/(kong|cli)/' },
    },
    {
      name: 'gateway-uses-verifier-only-in-demo',
      comment:
        'Only the demo (a verifying upstream, a key for the first run) uses verify and keygen.',
      severity: 'error',
      from: { path: '^src/gateway/', pathNot: '^src/gateway/demo\\.ts$' },
      to: { path: '^src/(verify|keygen)/' },
    },
    {
      name: 'nothing-imports-cli',
      comment: 'The CLI is the top: only the CLI imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'bench-never-imports-tests',
      comment: 'Benchmarks share helpers with the tests through testing/, never test/.',
      severity: 'error',
      from: { path: '^(bench|testing)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-cycles-in-src',
      comment: 'A cycle blurs which module stands on which.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.mts', '.js', '.mjs'],
    },
  },
}
