#!/usr/bin/env node
// Runs the whole suite (or the files/folders given) with Node's test runner on the TypeScript
// sources. Node 20's runner does not expand globs itself, so the files are listed here.
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) collect(join(path, name), out)
  } else if (path.endsWith('.test.ts')) {
    out.push(path)
  }
  return out
}

const args = process.argv.slice(2)
const targets = args.filter((a) => !a.startsWith('-'))
const flags = args.filter((a) => a.startsWith('-'))
const files = (targets.length ? targets : ['test']).flatMap((t) => collect(t, []))
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}
const reporter = flags.some((f) => f.startsWith('--test-reporter')) ? [] : ['--test-reporter=spec']
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', ...reporter, ...flags, ...files],
  {
    stdio: 'inherit',
  },
)
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
