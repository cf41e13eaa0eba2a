// Rewrites the generated parts of README.md (between the `<!-- options:… -->` and
// `<!-- errors:… -->` markers).
import { readFileSync, writeFileSync } from 'node:fs'
import { errorsMarkdownTable } from '../src/core/errors-docs.js'
import { optionsMarkdownTable } from '../src/options/docs.js'

const file = new URL('../README.md', import.meta.url)
const readme = readFileSync(file, 'utf8')
const next = readme
  .replace(
    /(<!-- options:start -->)[\s\S]*?(<!-- options:end -->)/,
    `$1\n${optionsMarkdownTable()}\n$2`,
  )
  .replace(
    /(<!-- errors:start -->)[\s\S]*?(<!-- errors:end -->)/,
    `$1\n${errorsMarkdownTable()}\n$2`,
  )
writeFileSync(file, next)
console.log(next === readme ? 'README.md already up to date' : 'README.md updated')
