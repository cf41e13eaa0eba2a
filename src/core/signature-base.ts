/**
 * The signature base of RFC 9421 §2.5: the exact bytes an HTTP Message Signature signs,
 * built from the covered components of a message and the signature parameters. Signer and
 * verifier both call {@link signatureBase}, so they cannot disagree on the format.
 * @module
 */
import {
  type InnerList,
  type Item,
  parseDictionary,
  serializeInnerList,
  serializeItem,
} from 'structured-headers'

/** The parts of an HTTP message a signature can cover. */
export interface HttpMessage {
  /** Request method, e.g. `POST`. */
  readonly method?: string | undefined
  /**
   * The target URI (RFC 9110 §7.1) as the recipient sees it: absolute, `scheme://authority`
   * followed by the path and query exactly as sent (not re-encoded).
   */
  readonly targetUri?: string | undefined
  /** Response status, for `@status` (responses only). */
  readonly status?: number | undefined
  /** Header fields, names in lower case; repeated fields as an array, in order. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>
}

/** A covered component cannot be taken from the message, or is not supported. */
export class ComponentError extends Error {
  /** The component identifier as serialized, e.g. `"content-digest"`. */
  readonly component: string
  constructor(component: string, message: string) {
    super(message)
    this.name = 'ComponentError'
    this.component = component
  }
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' }

interface TargetParts {
  readonly scheme: string
  readonly authority: string
  readonly path: string
  readonly query: string | undefined
}

function targetParts(id: string, uri: string | undefined): TargetParts {
  // Split by hand: URL would normalise escapes and dot segments, and the signature covers the
  // bytes as sent.
  const m =
    uri === undefined ? null : /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?/i.exec(uri)
  if (!m) throw new ComponentError(id, `${id} needs the absolute target URI of the request`)
  const scheme = m[1]!.toLowerCase()
  let authority = m[2]!.toLowerCase()
  const colon = authority.lastIndexOf(':')
  // RFC 9421 §2.2.3: the authority is normalised as HTTP does, without a default port.
  if (colon > authority.lastIndexOf(']') && authority.slice(colon + 1) === DEFAULT_PORTS[scheme]) {
    authority = authority.slice(0, colon)
  }
  return { scheme, authority, path: m[3] || '/', query: m[4] }
}

function fieldValues(id: string, name: string, message: HttpMessage): string[] {
  const raw = message.headers[name]
  if (raw === undefined) throw new ComponentError(id, `covered field ${name} is not in the message`)
  const list = typeof raw === 'string' ? [raw] : [...raw]
  // RFC 9421 §2.1: leading and trailing whitespace trimmed, obsolete line folding replaced.
  return list.map((v) => v.replace(/\r?\n[ \t]+/g, ' ').trim())
}

// RFC 9421 §2.2.8: names and values re-encoded as application/x-www-form-urlencoded.
const formEncode = (text: string) => new URLSearchParams([['', text]]).toString().slice(1)

function derivedValue(id: string, item: Item, message: HttpMessage): string {
  const name = item[0] as string
  switch (name) {
    case '@method':
      if (!message.method) throw new ComponentError(id, '@method needs the request method')
      return message.method
    case '@target-uri': {
      targetParts(id, message.targetUri)
      return message.targetUri!.split('#')[0]!
    }
    case '@authority':
      return targetParts(id, message.targetUri).authority
    case '@scheme':
      return targetParts(id, message.targetUri).scheme
    case '@path':
      return targetParts(id, message.targetUri).path
    case '@query':
      return `?${targetParts(id, message.targetUri).query ?? ''}`
    case '@request-target': {
      const t = targetParts(id, message.targetUri)
      return t.query === undefined ? t.path : `${t.path}?${t.query}`
    }
    case '@query-param': {
      const wanted = item[1].get('name')
      if (typeof wanted !== 'string') throw new ComponentError(id, '@query-param needs a name')
      const values = new URLSearchParams(targetParts(id, message.targetUri).query ?? '')
        .getAll(wanted)
        .map(formEncode)
      // §2.2.8: a parameter that occurs more than once cannot be signed unambiguously.
      if (values.length !== 1)
        throw new ComponentError(id, `query parameter ${wanted} occurs ${values.length} times`)
      return values[0]!
    }
    case '@status':
      if (message.status === undefined) throw new ComponentError(id, '@status needs a response')
      return String(message.status)
    default:
      throw new ComponentError(id, `derived component ${name} is not supported`)
  }
}

function fieldValue(id: string, item: Item, message: HttpMessage): string {
  const name = item[0] as string
  const params = item[1]
  for (const key of params.keys()) {
    if (key !== 'sf' && key !== 'key' && key !== 'bs')
      throw new ComponentError(id, `component parameter ${key} is not supported`)
  }
  const values = fieldValues(id, name, message)
  if (params.get('bs') === true) {
    if (params.size > 1) throw new ComponentError(id, 'bs cannot be combined with sf or key')
    return values.map((v) => serializeItem(Buffer.from(v, 'latin1'))).join(', ')
  }
  const key = params.get('key')
  if (key !== undefined || params.get('sf') === true) {
    // §2.1.1–2.1.2: strict re-serialization of a dictionary field (the only structured type
    // this package needs to cover: Content-Digest, Signature, Signature-Input).
    let dict: ReturnType<typeof parseDictionary>
    try {
      dict = parseDictionary(values.join(', '))
    } catch (err) {
      throw new ComponentError(
        id,
        `${name} is not a structured dictionary: ${(err as Error).message}`,
      )
    }
    if (key === undefined) {
      return [...dict]
        .map(
          ([k, v]) =>
            `${k}=${Array.isArray(v[0]) ? serializeInnerList(v as InnerList) : serializeItem(v as Item)}`,
        )
        .join(', ')
    }
    const member = typeof key === 'string' ? dict.get(key) : undefined
    if (member === undefined) throw new ComponentError(id, `${name} has no member ${String(key)}`)
    return Array.isArray(member[0])
      ? serializeInnerList(member as InnerList)
      : serializeItem(member as Item)
  }
  return values.join(', ')
}

/**
 * The value of one covered component (RFC 9421 §2.1 fields, §2.2 derived components).
 *
 * @example
 * ```ts
 * componentValue(['@authority', new Map()], { targetUri: 'https://Example.com:443/a', headers: {} }) // 'example.com'
 * ```
 * @throws {ComponentError}
 */
export function componentValue(item: Item, message: HttpMessage): string {
  const id = serializeItem(item)
  if (typeof item[0] !== 'string' || item[0] !== item[0].toLowerCase())
    throw new ComponentError(id, 'component names are lower-case strings')
  return item[0].startsWith('@') ? derivedValue(id, item, message) : fieldValue(id, item, message)
}

/**
 * The signature base (RFC 9421 §2.5) for `input`, the inner list of covered components with
 * the signature parameters, over `message`. Each component appears once; its value may not
 * contain a line break.
 *
 * @example
 * ```ts
 * const input = parseDictionary(signatureInputHeader).get('sig1') as InnerList
 * const base = signatureBase(input, { method: 'POST', targetUri: 'https://example.com/foo', headers })
 * ```
 * @throws {ComponentError}
 */
export function signatureBase(input: InnerList, message: HttpMessage): string {
  const lines: string[] = []
  const seen = new Set<string>()
  for (const item of input[0]) {
    const id = serializeItem(item)
    if (seen.has(id)) throw new ComponentError(id, `component ${id} is covered twice`)
    seen.add(id)
    const value = componentValue(item, message)
    if (/[\r\n]/.test(value)) throw new ComponentError(id, `component ${id} contains a line break`)
    lines.push(`${id}: ${value}`)
  }
  lines.push(`"@signature-params": ${serializeInnerList(input)}`)
  return lines.join('\n')
}
