import type { BodyDigest } from '../core/body-digest.js'

/** What the verifier looks at in a request. Adapters build it from their framework's request. */
export interface VerifyRequest {
  /** Request headers; names in lower case (as node gives them). */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>
  readonly method?: string | undefined
  /** Absolute URL as the upstream received it (`http://host/path?query`), for `htu`/`htq`. */
  readonly url?: string | undefined
  /**
   * The body received: bytes, a stream (hashed chunk by chunk, never held whole), or a digest
   * an adapter already made. Absent means no body.
   */
  readonly body?:
    | Uint8Array
    | string
    | AsyncIterable<Uint8Array | string>
    | BodyDigest
    | null
    | undefined
}
