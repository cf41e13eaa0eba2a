import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh temp folder; the caller removes it with `removeDir` (in an `after` hook). */
export function makeTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'kuj-test-'))
}

export function removeDir(dir: string | undefined): Promise<void> {
  return dir ? rm(dir, { recursive: true, force: true }) : Promise.resolve()
}

/** A fresh temp folder, removed when the test that asked for it ends. */
export async function tempDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await makeTempDir()
  t.after(() => removeDir(dir))
  return dir
}
