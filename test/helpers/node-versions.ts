/**
 * Other Node versions for the tests, as npm packages (`node-<platform>-<arch>@<version>`),
 * fetched with npm once into the gitignored `.cache/node/` and reused. A failed download
 * throws: the tests that need a version fail, they are never skipped.
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { fileExists } from '../../src/core/file-exists.js'

const exec = promisify(execFile)
const CACHE = fileURLToPath(new URL('../../.cache/node/', import.meta.url))

/**
 * 18.19.1: the nodejs of Ubuntu 24.04, the base of the kong:3.9 image (the lowest Node the
 * plugin file and the kong commands support); 22: the current LTS.
 */
export const NODE_VERSIONS = ['18.19.1', '22.23.5'] as const

/** The path of the `node` executable of `version`, downloading it on first use. */
export async function nodeBinary(version: string): Promise<string> {
  const pkg = `node-${process.platform}-${process.arch}`
  const dir = join(CACHE, `${pkg}-${version}`)
  const node = join(dir, 'package', 'bin', 'node')
  if (await fileExists(node)) return node
  await mkdir(CACHE, { recursive: true })
  // Unpacked beside the target and renamed: test files running in parallel may race here.
  const work = await mkdtemp(join(CACHE, '.download-'))
  try {
    const { stdout } = await exec('npm', ['pack', `${pkg}@${version}`, '--silent'], {
      cwd: work,
      timeout: 300_000,
    })
    const tarball = stdout.trim().split('\n').at(-1) as string
    await exec('tar', ['xzf', tarball], { cwd: work })
    await rm(join(work, tarball))
    await rename(work, dir).catch(async (err) => {
      if (!(await fileExists(node))) throw err
    })
  } catch (err) {
    throw new Error(
      `could not fetch Node ${version} as the npm package ${pkg}@${version}: ${(err as Error).message}`,
    )
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  const { stdout } = await exec(node, ['--version'])
  if (stdout.trim() !== `v${version}`)
    throw new Error(`${node} is ${stdout.trim()}, not v${version}`)
  return node
}
