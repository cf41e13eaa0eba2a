import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  cannotRead,
  cannotWriteIn,
  lookupUser,
  type UnixUser,
} from '../../src/kong/doctor/access.js'
import { makeTempDir, removeDir } from '../../testing/tmp.js'

const succeeds = (command: string, ...args: string[]) =>
  spawnSync(command, args, { stdio: 'ignore' }).status === 0

// The kernel is asked only by root; ACLs are set with setfacl. A missing package skips the
// tests with what to install, except in CI, which installs it (bash .ci/run): there it fails.
const skip =
  process.getuid?.() !== 0
    ? 'needs root: only root can ask the kernel as another user'
    : !process.env.CI && !(succeeds('setfacl', '--version') && succeeds('setpriv', '--version'))
      ? 'needs setfacl and setpriv: apt-get install acl util-linux (bash .ci/run installs them)'
      : false

describe('kong doctor permission checks ask the kernel: POSIX ACLs count', { skip }, () => {
  let dir: string
  let nobody: UnixUser
  const setfacl = (...args: string[]) => execFileSync('setfacl', args)

  before(async () => {
    dir = await makeTempDir()
    await chmod(dir, 0o755)
    const found = await lookupUser('nobody')
    assert.ok(found, 'this machine has a nobody user')
    nobody = found
  })
  after(() => removeDir(dir))

  test('an ACL entry grants what the permission bits refuse', async () => {
    const socketDir = join(dir, 'granted')
    await mkdir(socketDir, { mode: 0o700 })
    const key = join(socketDir, 'key.pem')
    await writeFile(key, 'x', { mode: 0o600 })
    // Bits alone: nobody cannot even enter the folder.
    assert.equal(await cannotWriteIn(nobody, socketDir), `nobody cannot enter ${socketDir}`)
    assert.equal(await cannotRead(nobody, key), `nobody cannot enter ${socketDir}`)
    setfacl('-m', 'u:nobody:rwx', socketDir)
    assert.equal(await cannotWriteIn(nobody, socketDir), undefined)
    // The folder's entry does not reach the file inside it.
    assert.equal(await cannotRead(nobody, key), `nobody cannot read ${key}`)
    setfacl('-m', 'u:nobody:r', key)
    assert.equal(await cannotRead(nobody, key), undefined)
  })

  test('an ACL entry refuses what the permission bits allow, and the message says so', async () => {
    const open = join(dir, 'denied')
    await mkdir(open)
    await chmod(open, 0o777)
    const file = join(open, 'key.pem')
    await writeFile(file, 'x')
    await chmod(file, 0o644)
    assert.equal(await cannotWriteIn(nobody, open), undefined)
    assert.equal(await cannotRead(nobody, file), undefined)
    const refused = 'the permission bits allow it, but the kernel refuses (a POSIX ACL'
    // Enter and read, not write.
    setfacl('-m', 'u:nobody:r-x', open)
    assert.ok(
      (await cannotWriteIn(nobody, open))?.startsWith(`nobody cannot write in ${open}: ${refused}`),
    )
    setfacl('-m', 'u:nobody:---', file)
    assert.ok(
      (await cannotRead(nobody, file))?.startsWith(`nobody cannot read ${file}: ${refused}`),
    )
    // Not even enter: the folder is named as what is in the way.
    setfacl('-m', 'u:nobody:---', open)
    for (const why of [await cannotWriteIn(nobody, open), await cannotRead(nobody, file)])
      assert.ok(why?.startsWith(`nobody cannot enter ${open}: ${refused}`), why)
  })
})
