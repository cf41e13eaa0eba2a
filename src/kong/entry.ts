/**
 * The module Kong's plugin server loads with `require()` (bundled to CommonJS as
 * `dist/kong/plugin.cjs`). It must print nothing when loaded: Kong reads the plugin server's
 * standard output when it asks for plugin information.
 * @module
 */

import { NAME, PRIORITY, UpstreamJwtPlugin } from './plugin.js'
import { kongSchema } from './schema.js'

export type { KongConsumer, KongPdk, KongService } from './plugin.js'

declare const KONG_UPSTREAM_JWT_VERSION: string | undefined

export const Plugin = UpstreamJwtPlugin
export const Name = NAME
export const Priority = PRIORITY
export const Version =
  typeof KONG_UPSTREAM_JWT_VERSION === 'string' ? KONG_UPSTREAM_JWT_VERSION : '0.0.0'
export const Schema = kongSchema()
