import { unwatchFile, watchFile } from 'node:fs'

/**
 * Reloads when the configuration file changes (mtime or size, polled each second: `fs.watch`
 * misses editors that replace the file and mounts that do not report events). Returns the
 * function that stops watching; a configuration given as an object or function is not watched.
 *
 * @example
 * ```ts
 * const unwatch = watchConfigFile(options, () => void reload())
 * // on close
 * unwatch()
 * ```
 */
export function watchConfigFile(
  options: { readonly config?: unknown; readonly watch?: boolean | undefined },
  reload: () => void,
): () => void {
  const path =
    typeof options.config === 'string' && options.watch !== false ? options.config : undefined
  if (!path) return () => {}
  watchFile(path, { interval: 1000, persistent: false }, (curr, prev) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) reload()
  })
  return () => unwatchFile(path)
}
