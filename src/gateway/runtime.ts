import type { SignOn } from '../signer/jws.js'
import type { SignerLogger } from '../signer/key-store.js'
import { createSigner, type JsonWebKeySet, type Signer } from '../signer/signer.js'
import {
  type ConsumerEntry,
  effectivePlugin,
  type GatewayConfig,
  type KeyAuthConfig,
  keyAuthConfig,
  type PluginEntry,
  type RouteEntry,
  signerOptionsOf,
} from './config.js'
import { Router } from './router.js'

/** Everything a configuration turns into, built whole before it replaces the running one. */
export interface Runtime {
  readonly config: GatewayConfig
  readonly router: Router
  readonly signerFor: ReadonlyMap<RouteEntry, Signer>
  readonly keyAuthFor: ReadonlyMap<RouteEntry, KeyAuthConfig | undefined>
  readonly consumersByKey: ReadonlyMap<string, ConsumerEntry>
  /** Public keys of every signer, deduplicated by kid. */
  jwks(): JsonWebKeySet
  close(): void
}

/**
 * Builds a runtime: one signer per kong-upstream-jwt plugin entry (keys loaded and checked now,
 * so a bad key refuses the configuration instead of failing requests).
 */
export async function buildRuntime(
  config: GatewayConfig,
  context: {
    env?: Readonly<Record<string, string | undefined>>
    logger?: SignerLogger
    signOn?: SignOn
  },
): Promise<Runtime> {
  const signers = new Map<PluginEntry, Signer>()
  const signerFor = new Map<RouteEntry, Signer>()
  const keyAuthFor = new Map<RouteEntry, KeyAuthConfig | undefined>()
  try {
    for (const route of config.routes) {
      const entry = effectivePlugin(config, route, 'kong-upstream-jwt')!
      let signer = signers.get(entry)
      if (!signer) {
        try {
          signer = await createSigner(signerOptionsOf(entry), {
            env: context.env,
            logger: context.logger,
            signOn: context.signOn,
          })
        } catch (err) {
          throw Object.assign(err as Error, {
            message: `plugin kong-upstream-jwt (${entry.scope}): ${(err as Error).message}`,
          })
        }
        signers.set(entry, signer)
      }
      signerFor.set(route, signer)
      const auth = effectivePlugin(config, route, 'key-auth')
      keyAuthFor.set(route, auth ? keyAuthConfig(auth) : undefined)
    }
  } catch (err) {
    for (const s of signers.values()) s.close()
    throw err
  }
  const consumersByKey = new Map<string, ConsumerEntry>()
  for (const c of config.consumers) for (const k of c.keys) consumersByKey.set(k, c)
  return {
    config,
    router: new Router(config),
    signerFor,
    keyAuthFor,
    consumersByKey,
    jwks() {
      const byKid = new Map<string, JsonWebKeySet['keys'][number]>()
      for (const s of signers.values()) for (const k of s.jwks().keys) byKid.set(k.kid, k)
      return { keys: [...byKid.values()] }
    },
    close() {
      for (const s of signers.values()) s.close()
    },
  }
}
