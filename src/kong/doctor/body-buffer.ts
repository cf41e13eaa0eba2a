/**
 * nginx buffers a request body above `nginx_http_client_body_buffer_size` to a file; Kong 3.8
 * and later read it back for the plugin (up to the limit the plugin passes), older Kong cannot.
 * @module
 */
import type { KongConf } from './kong-conf.js'
import { nginxSize } from './kong-conf.js'
import { type DoctorCheck, fail, pass } from './report.js'

function formatSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}m`
  if (bytes % 1024 === 0) return `${bytes / 1024}k`
  return String(bytes)
}

export function checkBodyBuffer(
  conf: KongConf,
  version: [number, number],
  maxBody: number,
): DoctorCheck {
  const name = 'body-buffer'
  const raw = conf.get('nginx_http_client_body_buffer_size')
  const buffer = nginxSize(raw)
  if (buffer === undefined) {
    return fail(
      name,
      `nginx_http_client_body_buffer_size "${raw}" is not an nginx size`,
      'nginx_http_client_body_buffer_size = 1m',
    )
  }
  const v = version.join('.')
  const readsFiles = version[0] > 3 || (version[0] === 3 && version[1] >= 8)
  if (buffer >= maxBody) {
    return pass(
      name,
      `nginx keeps bodies up to ${raw} in memory, at least max_body_size (${maxBody} bytes)`,
    )
  }
  if (readsFiles) {
    return pass(
      name,
      `bodies above ${raw} go to a temporary file; Kong ${v} reads them back for the hash, up to max_body_size (${maxBody} bytes)`,
    )
  }
  return fail(
    name,
    `Kong ${v} cannot read bodies nginx buffered to disk: requests with bodies between ${raw} and max_body_size (${maxBody} bytes) end with 500`,
    `nginx_http_client_body_buffer_size = ${formatSize(maxBody)}   # or upgrade to Kong >= 3.8, or lower max_body_size`,
  )
}

/** Parses `3.9`, `3.9.1` into [major, minor]; undefined when not a version. */
export function parseKongVersion(value: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)(\.\d+)?$/.exec(value.trim())
  return m ? [Number(m[1]), Number(m[2])] : undefined
}
