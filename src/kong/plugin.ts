/**
 * The Kong plugin: a drop-in replacement for the Lua `kong-upstream-jwt`, run by Kong's
 * JavaScript plugin server (`kong-js-pluginserver`, npm `kong-pdk`). Each `kong.*` call is a
 * round trip to Kong, so the reads are batched and the plugin makes 4 calls for a request
 * without a body, 5 with one.
 * @module
 */

import { digestBytes } from '../core/body-digest.js'
import { hostWithPort } from '../core/defaults.js'
import {
  BodyError,
  type ErrorCode,
  SigningError,
  statusOf,
  UpstreamJwtError,
} from '../core/errors.js'
import { resolveOptions } from '../options/resolve.js'
import type { ResolvedOptions } from '../options/table.js'
import type { RequestFacts } from '../signer/facts.js'
import { createSigner, type Signer } from '../signer/signer.js'

/** The part of Kong's PDK this plugin calls (every call is an awaited RPC). */
export interface KongPdk {
  readonly request: {
    get_headers(): Promise<Record<string, string | string[]> | null | undefined>
    get_raw_body(max?: number): Promise<Uint8Array | string | null | undefined>
    get_method(): Promise<string>
  }
  readonly client: { get_consumer(): Promise<KongConsumer | null | undefined> }
  readonly router: { get_service(): Promise<KongService | null | undefined> }
  readonly service: {
    readonly request: {
      set_header(name: string, value: string): Promise<unknown>
      set_headers(headers: Record<string, string>): Promise<unknown>
      get_scheme(): Promise<string | undefined>
      get_host(): Promise<string | undefined>
      get_port(): Promise<number | undefined>
      get_path(): Promise<string | undefined>
      get_raw_query(): Promise<string | undefined>
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
      const [rawHeaders, consumer, service] = await Promise.all([
        kong.request.get_headers(),
        kong.client.get_consumer(),
        options.audience === undefined ? kong.router.get_service() : Promise.resolve(undefined),
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
        ...(options.bind_request || options.signature_mode !== 'jwt'
          ? await this.#forwarded(kong)
          : {}),
      }
      if (options.signature_mode === 'jwt') {
        const issued = await signer.issue(facts)
        await kong.service.request.set_header(signer.headerName, issued.value)
      } else {
        // One round trip for the JWT, Content-Digest, Signature-Input and Signature.
        const signed = await signer.signRequest(facts)
        await kong.service.request.set_headers({ ...signed.headers })
      }
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

  /**
   * The request as Kong will forward it, for `htm`/`htu`/`htq` and the signature's
   * `@method`/`@target-uri` (Kong 3.x PDK getters).
   */
  async #forwarded(
    kong: KongPdk,
  ): Promise<Pick<RequestFacts, 'method' | 'scheme' | 'host' | 'path' | 'query'>> {
    const r = kong.service.request
    const [method, scheme, host, port, path, query] = await Promise.all([
      kong.request.get_method(),
      r.get_scheme(),
      r.get_host(),
      r.get_port(),
      r.get_path(),
      r.get_raw_query(),
    ])
    if (!method || !scheme || !host || !path) {
      throw new SigningError(
        'bind_request needs the kong.service.request getters of Kong 3.x (so do signature modes http-signature and both)',
      )
    }
    return {
      method,
      scheme,
      host: hostWithPort(scheme, host, port || undefined),
      path,
      query: query ?? '',
    }
  }
}
