/**
 * Whether a named user (Kong's, `kong` in the official images) can read a file or write in a
 * folder, from the account databases and the permission bits; POSIX ACLs are not consulted.
 * @module
 */
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
async function reachable(user: UnixUser, path: string): Promise<string | undefined> {
  let dir = dirname(resolve(path))
  const chain: string[] = []
  while (true) {
    chain.unshift(dir)
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  for (const d of chain) if (!(await allowed(user, d, 1))) return d
  return undefined
}

/** Why `user` cannot read `file`, or undefined when it can. */
export async function cannotRead(user: UnixUser, file: string): Promise<string | undefined> {
  const blocked = await reachable(user, file)
  if (blocked) return `${user.name} cannot enter ${blocked}`
  if (!(await allowed(user, file, 4))) return `${user.name} cannot read ${file}`
  return undefined
}

/** Why `user` cannot create files in `dir`, or undefined when it can. */
export async function cannotWriteIn(user: UnixUser, dir: string): Promise<string | undefined> {
  const blocked = await reachable(user, resolve(dir, 'x'))
  if (blocked) return `${user.name} cannot enter ${blocked}`
  if (!(await allowed(user, dir, 2))) return `${user.name} cannot write in ${dir}`
  return undefined
}
