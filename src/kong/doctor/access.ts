/**
 * Whether a named user (Kong's, `kong` in the official images) can read a file or write in a
 * folder. Run as root, the kernel is asked (test(1) run as that user with util-linux's
 * `setpriv`), so POSIX ACLs, read-only mounts and security modules count, and when it refuses,
 * asked again folder by folder to name the one in the way. Run as anyone else, the permission
 * bits, read with the account databases, decide.
 * @module
 */
import { execFile } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/** A user as /etc/passwd and /etc/group know it. */
export interface UnixUser {
  readonly name: string
  readonly uid: number
  readonly gids: ReadonlySet<number>
}

/** Looks a user up in `passwd` and `group` files; undefined when there is no such user. */
export async function lookupUser(
  name: string,
  files = { passwd: '/etc/passwd', group: '/etc/group' },
): Promise<UnixUser | undefined> {
  const passwd = await readFile(files.passwd, 'utf8').catch(() => '')
  const entry = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === name)
  if (!entry) return undefined
  const gids = new Set<number>([Number(entry[3])])
  const group = await readFile(files.group, 'utf8').catch(() => '')
  for (const line of group.split('\n')) {
    const f = line.split(':')
    if ((f[3] ?? '').split(',').includes(name)) gids.add(Number(f[2]))
  }
  return { name, uid: Number(entry[2]), gids }
}

type Want = 4 | 2 | 1

async function allowed(user: UnixUser, path: string, want: Want): Promise<boolean> {
  if (user.uid === 0) return true
  const s = await stat(path)
  const bits =
    s.uid === user.uid ? (s.mode >> 6) & 7 : user.gids.has(s.gid) ? (s.mode >> 3) & 7 : s.mode & 7
  return (bits & want) === want
}

/** Every folder from `/` down to `path`'s parent: each needs search (x) permission. */
function folders(path: string): string[] {
  let dir = dirname(resolve(path))
  const chain: string[] = []
  while (true) {
    chain.unshift(dir)
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  return chain
}

/**
 * The kernel's answer to `test EXPRESSION` run as `user` (real and effective ids, every group),
 * undefined when it cannot be asked: only root can take another user's ids, and `setpriv` may
 * be missing. test(1) exits 1 for "no" and writes nothing; anything else is no answer.
 */
function kernelAllows(user: UnixUser, expression: string[]): Promise<boolean | undefined> {
  if (process.getuid?.() !== 0) return Promise.resolve(undefined)
  const [gid, ...groups] = [...user.gids]
  const args = [`--reuid=${user.uid}`, `--regid=${gid}`]
  args.push(groups.length ? `--groups=${groups.join(',')}` : '--clear-groups')
  return new Promise((done) => {
    execFile('setpriv', [...args, '--', 'test', ...expression], (err, _out, stderr) => {
      if (!err) return done(true)
      const code = (err as { code?: unknown }).code
      done(code === 1 && stderr === '' ? false : undefined)
    })
  })
}

// Said when the permission bits allow what the kernel refuses.
const REFUSED =
  'the permission bits allow it, but the kernel refuses (a POSIX ACL, a read-only mount or a security module)'

/**
 * Why `user` cannot reach `path` and then do `want` on `target` (`expression` for test(1)), or
 * undefined when it can. With the kernel's answer, the folder or file in the way is found by
 * asking it step by step; without, by the permission bits.
 */
async function whyNot(
  user: UnixUser,
  path: string,
  target: string,
  want: Want,
  expression: string[],
  refusal: string,
): Promise<string | undefined> {
  const kernel = await kernelAllows(user, expression)
  // An ACL entry or a supplementary group the bits do not show may grant what they refuse.
  if (kernel === true) return undefined
  for (const d of folders(path)) {
    const byKernel = kernel === false ? await kernelAllows(user, ['-x', d]) : undefined
    if (byKernel === true) continue
    // The bits decide without the kernel's answer, and say whether a refusal is theirs.
    const byBits = await allowed(user, d, 1)
    if (byKernel === undefined && byBits) continue
    return `${user.name} cannot enter ${d}${byBits ? `: ${REFUSED}` : ''}`
  }
  const byBits = await allowed(user, target, want)
  if (kernel === undefined) return byBits ? undefined : refusal
  return byBits ? `${refusal}: ${REFUSED}` : refusal
}

/** Why `user` cannot read `file`, or undefined when it can. */
export function cannotRead(user: UnixUser, file: string): Promise<string | undefined> {
  return whyNot(user, file, file, 4, ['-r', file], `${user.name} cannot read ${file}`)
}

/** Why `user` cannot create files in `dir`, or undefined when it can. */
export function cannotWriteIn(user: UnixUser, dir: string): Promise<string | undefined> {
  // Creating a file takes write and search permission on the folder, and search on the way.
  return whyNot(
    user,
    resolve(dir, 'x'),
    dir,
    2,
    ['-w', dir, '-a', '-x', dir],
    `${user.name} cannot write in ${dir}`,
  )
}
