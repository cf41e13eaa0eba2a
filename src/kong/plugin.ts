/**
 * The Kong plugin: a drop-in replacement for the Lua `kong-upstream-jwt`, run by Kong's
 * JavaScript plugin server (`kong-js-pluginserver`, npm `kong-pdk`). Each `kong.*` call is a
 * round trip to Kong, so the reads are batched and the plugin makes 4 calls for a request
 * without a body, 5 with one; `bind_request` or a `signature_mode` other than `jwt` adds 4
 * (method, upstream URI, query, upstream Host), and the service read when `audience` is set;
 * a client-sent proof header the mode does not replace adds one `clear_header` each.
 * @module
 */

import { digestBytes } from '../core/body-digest.js'
import {
  BodyError,
  type ErrorCode,
  SigningError,
  statusOf,
  UpstreamJwtError,
} from '../core/errors.js'
import { kongUpstreamAuthority } from '../core/forwarded.js'
import { resolveOptions } from '../options/resolve.js'
import type { ResolvedOptions } from '../options/table.js'
import type { RequestFacts } from '../signer/facts.js'
import { createSigner, type Signer } from '../signer/signer.js'

/**
 * The part of Kong's PDK this plugin calls (every call is an awaited RPC). Each one exists in
 * Kong 3.x; the tests refuse any method that kong-pdk's typings of Kong's PDK do not list.
 */
export interface KongPdk {
  readonly request: {
    get_headers(): Promise<Record<string, string | string[]> | null | undefined>
    get_raw_body(max?: number): Promise<Uint8Array | string | null | undefined>
    get_method(): Promise<string | null | undefined>
    get_raw_query(): Promise<string | null | undefined>
  }
  readonly client: { get_consumer(): Promise<KongConsumer | null | undefined> }
  readonly router: { get_service(): Promise<KongService | null | undefined> }
  /** `ngx.var[name]` in Kong (an nginx variable; nil when unset). */
  readonly nginx: { get_var(name: string): Promise<string | null | undefined> }
  readonly service: {
    readonly request: {
      set_header(name: string, value: string): Promise<unknown>
      set_headers(headers: Record<string, string>): Promise<unknown>
      clear_header(name: string): Promise<unknown>
    }
  }
  readonly log: { err(...args: string[]): Promise<unknown> }
  readonly response: {
    exit(status: number, body?: unknown, headers?: Record<string, string>): Promise<unknown>
  }
}

export interface KongConsumer {
  readonly id?: string
  readonly username?: string
  readonly custom_id?: string
}

export interface KongService {
  readonly id?: string
  readonly name?: string
  readonly protocol?: string | null
  readonly host?: string | null
  readonly port?: number | null
}

/** What Kong has decided about the forwarded request by the time plugins run (access phase). */
interface ForwardedReads {
  readonly method: string | null | undefined
  /** `$upstream_uri`: the path Kong will send, escaped, without the query (added after access). */
  readonly upstreamUri: string | null | undefined
  /** `$args`: the query Kong will send (other plugins' `set_query` included). */
  readonly query: string | null | undefined
  /** `$upstream_host`: the client's Host with `preserve_host`, or one a plugin set; else `''`. */
  readonly upstreamHost: string | null | undefined
}

/** Plugin name, as Kong and the Lua original know it. */
export const NAME = 'kong-upstream-jwt'

/**
 * 790: after authentication (key-auth 1250, jwt 1450, oauth2 1400, openid-connect 1050,
 * basic-auth 1100, hmac-auth 1030), acl (950), rate-limiting (910) and request-transformer
 * (801), so the consumer is known and the hash covers the body as it is forwarded; before
 * aws-lambda (750). The original's 900 ran before request-transformer, whose changes then broke
 * the hash.
 */
export const PRIORITY = 790

/** The RFC 9421/9530 headers a signature mode sets; a client's copies are never forwarded. */
const HTTP_SIGNATURE_HEADERS = ['signature', 'signature-input', 'content-digest'] as const

function single(headers: Record<string, string | string[]>, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

function lowerCased(
  headers: Record<string, string | string[]> | null | undefined,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v
  return out
}

/** The plugin class Kong's plugin server instantiates once per plugin configuration. */
export class UpstreamJwtPlugin {
  readonly #options: ResolvedOptions
  readonly #signer: Promise<Signer>

  /**
   * Validates the configuration once (a bad one is refused at `StartInstance` with the reason)
   * and starts loading the keys.
   */
  constructor(config: Record<string, unknown>) {
    // Kong adds bookkeeping keys (__key__, __seq__, __plugin_id) to the configuration.
    const ignore = (key: string) => key.startsWith('__')
    this.#options = resolveOptions(config, { ignore })
    const options = Object.fromEntries(Object.entries(config ?? {}).filter(([k]) => !ignore(k)))
    this.#signer = createSigner(options)
    this.#signer.catch(() => {}) // reported on the first request, which it then refuses
  }

  /** Access phase: sign, or end the request (500/413) — never let it through unsigned. */
  async access(kong: KongPdk): Promise<void> {
    try {
      const signer = await this.#signer
      const options = this.#options
      const bind = options.bind_request || options.signature_mode !== 'jwt'
      const [rawHeaders, consumer, service, reads] = await Promise.all([
        kong.request.get_headers(),
        kong.client.get_consumer(),
        options.audience === undefined || bind
          ? kong.router.get_service()
          : Promise.resolve(undefined),
        bind ? readForwarded(kong) : undefined,
      ])
      const headers = lowerCased(rawHeaders)
      const declared = single(headers, 'content-length')
      const chunked = single(headers, 'transfer-encoding') !== undefined
      const length = declared === undefined ? undefined : Number(declared)
      if (length !== undefined && length > options.max_body_size) {
        throw new BodyError(
          'ERR_BODY_TOO_LARGE',
          `request body exceeds max_body_size (${options.max_body_size} bytes)`,
          { limit: options.max_body_size },
        )
      }
      let body: Uint8Array | undefined
      if ((length ?? 0) > 0 || chunked) {
        // The limit lets Kong >= 3.8 read bodies nginx buffered to a file.
        const raw = await kong.request.get_raw_body(options.max_body_size)
        body = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : (raw ?? undefined)
        if (!body || body.length === 0 || (length !== undefined && body.length !== length)) {
          throw new BodyError(
            'ERR_BODY_UNAVAILABLE',
            'request body could not be read whole (buffered to disk by nginx? use Kong >= 3.8 or raise nginx_http_client_body_buffer_size); not signing a hash of other bytes',
          )
        }
        if (body.length > options.max_body_size) {
          throw new BodyError(
            'ERR_BODY_TOO_LARGE',
            `request body exceeds max_body_size (${options.max_body_size} bytes)`,
            { limit: options.max_body_size },
          )
        }
      }
      const facts: RequestFacts = {
        body: body ? digestBytes(body) : undefined,
        service: service ? { id: service.id, name: service.name } : undefined,
        consumer: consumer
          ? { id: consumer.id, username: consumer.username, custom_id: consumer.custom_id }
          : undefined,
        headers,
        // An HTTP Message Signature covers @method and @target-uri: the request as forwarded.
        ...(reads ? forwarded(reads, service) : {}),
      }
      let set: readonly string[]
      if (options.signature_mode === 'jwt') {
        const issued = await signer.issue(facts)
        await kong.service.request.set_header(signer.headerName, issued.value)
        set = [signer.headerName.toLowerCase()]
      } else {
        // One round trip for the JWT, Content-Digest, Signature-Input and Signature.
        const signed = await signer.signRequest(facts)
        await kong.service.request.set_headers({ ...signed.headers })
        set = Object.keys(signed.headers).map((name) => name.toLowerCase())
      }
      // A client-sent proof this mode does not replace (the token header in http-signature
      // mode, a Signature in jwt mode) must not reach the upstream as if Kong had made it.
      // Only names the client actually sent cost a round trip.
      const stale = [signer.headerName.toLowerCase(), ...HTTP_SIGNATURE_HEADERS].filter(
        (name) => headers[name] !== undefined && !set.includes(name),
      )
      await Promise.all(stale.map((name) => kong.service.request.clear_header(name)))
    } catch (err) {
      const known = err instanceof UpstreamJwtError
      const code: ErrorCode = known ? err.code : 'ERR_INTERNAL'
      const status = statusOf(code)
      const message = err instanceof Error ? err.message : String(err)
      try {
        await kong.log.err(
          `kong-upstream-jwt: request refused, not forwarded unsigned: ${code}: ${message}`,
        )
      } catch {
        // Logging must not keep the request from ending: an escaping exception would let Kong
        // proxy it without the header.
      }
      // exit() never returns to the plugin: no PDK call may follow it.
      void kong.response.exit(status, {
        message: status === 413 ? 'Request size limit exceeded' : 'An unexpected error occurred',
        code,
      })
    }
  }
}

/** The reads `bind_request` needs, started together with the others (one batch). */
async function readForwarded(kong: KongPdk): Promise<ForwardedReads> {
  const [method, upstreamUri, query, upstreamHost] = await Promise.all([
    kong.request.get_method(),
    kong.nginx.get_var('upstream_uri'),
    kong.request.get_raw_query(),
    kong.nginx.get_var('upstream_host'),
  ])
  return { method, upstreamUri, query, upstreamHost }
}

/**
 * The request as Kong forwards it, for `htm`/`htu`/`htq`: Kong's router has already set
 * `$upstream_uri` (service path and stripped route path) and, with `preserve_host`,
 * `$upstream_host` before the access phase; the query is `$args`, which Kong appends after the
 * access phase; the Host otherwise comes from the service as Kong's balancer sets it.
 */
function forwarded(
  reads: ForwardedReads,
  service: KongService | null | undefined,
): Pick<RequestFacts, 'method' | 'scheme' | 'host' | 'path' | 'query'> {
  const { method, upstreamUri, query, upstreamHost } = reads
  const scheme = service?.protocol ?? undefined
  if (!method || !upstreamUri || !scheme || (!upstreamHost && !service?.host)) {
    throw new SigningError(
      'bind_request: Kong gave no method, upstream URI or service for this request (a route without a service?)',
    )
  }
  const host = kongUpstreamAuthority(
    { protocol: scheme, host: service?.host ?? '', port: service?.port },
    upstreamHost,
  )
  // $upstream_uri carries no query yet: Kong appends `?` and $args after the access phase.
  return { method, scheme, host, path: upstreamUri, query: query ?? '' }
}
