import { access } from 'node:fs/promises'

/** Whether a path exists (any type); never throws. */
export function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}
