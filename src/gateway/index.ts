/**
 * The standalone signing gateway.
 *
 * @example
 * ```ts
 * import { startGateway } from 'kong-upstream-jwt/gateway'
 * const gateway = await startGateway({ config: './kong.yml' })
 * ```
 * @module
 */

export {
  kongUpstreamAuthority,
  kongUpstreamPath,
  type PathHandling,
  type UpstreamPathRule,
} from '../core/forwarded.js'
export type { SignOn } from '../signer/jws.js'
export { sweepArrayBuffersInline } from './array-buffer-sweeping.js'
export {
  type GatewayConfig,
  GatewayConfigError,
  loadConfigFile,
  parseConfig,
} from './config.js'
export { type Demo, type DemoOptions, startDemo } from './demo.js'
export { type Gateway, type GatewayOptions, type ListenAddress, startGateway } from './gateway.js'
export { type RouteMatch, Router } from './router.js'
