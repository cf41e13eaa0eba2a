import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { parseConfig } from '../../src/gateway/config.js'
import { sniCandidates } from '../../src/gateway/listener-tls.js'
import { issue } from '../../testing/pki.js'
import { makeTlsPki, pem, type TlsPki } from '../helpers/tls.js'

describe("kong.yml TLS entities (Kong's names and checks)", () => {
  let pki: TlsPki
  let expiredCa: string
  before(async () => {
    pki = await makeTlsPki()
    expiredCa = pem(
      await issue('Old CA', 'ES256', undefined, {
        ca: true,
        notBefore: new Date(Date.now() - 3 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
      }),
    ).cert
  })
  const base = (service: Record<string, unknown>, top: Record<string, unknown> = {}) => ({
    _format_version: '3.0',
    ...top,
    services: [{ name: 'api', routes: [{ paths: ['/'] }], ...service }],
    plugins: [{ name: 'kong-upstream-jwt' }],
  })
  const refused = (input: unknown, pattern: RegExp) => {
    assert.throws(
      () => parseConfig(input),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_OPTION_INVALID')
        assert.match(err.message, pattern)
        assert.doesNotMatch(err.message, /BEGIN|PRIVATE/, 'no certificate or key in a message')
        return true
      },
    )
  }

  test('resolves ca_certificates, client_certificate, nested and top-level snis', () => {
    const config = parseConfig(
      base(
        {
          url: 'https://orders.internal:8443',
          tls_verify: true,
          tls_verify_depth: 2,
          ca_certificates: ['ca-1'],
          client_certificate: { id: 'client' },
        },
        {
          ca_certificates: [{ id: 'ca-1', cert: pki.caPem }],
          certificates: [
            { id: 'client', ...pki.client },
            { id: 'site-a', ...pki.siteA, snis: [{ name: 'A.example.test' }] },
            { id: 'site-b', ...pki.siteB },
          ],
          snis: [{ name: '*.b.example.test', certificate: { id: 'site-b' } }],
        },
      ),
    )
    const tls = config.services[0]!.tls!
    assert.equal(tls.verify, true)
    assert.equal(tls.depth, 2)
    assert.deepEqual(tls.ca, [pki.caPem])
    assert.equal(tls.client?.id, 'client')
    const snis = Object.fromEntries((config.certificates ?? []).map((c) => [c.id, c.snis]))
    assert.deepEqual(snis, {
      client: [],
      'site-a': ['a.example.test'],
      'site-b': ['*.b.example.test'],
    })
  })

  test('https services verify by default; http services have no TLS settings', () => {
    const https = parseConfig(base({ url: 'https://orders.internal' })).services[0]!.tls!
    assert.equal(https.verify, true)
    assert.deepEqual(https.ca, [])
    assert.equal(parseConfig(base({ url: 'http://orders.internal' })).services[0]!.tls, undefined)
    assert.equal(
      parseConfig(base({ url: 'https://o', tls_verify: false })).services[0]!.tls!.verify,
      false,
    )
  })

  test('refusals name the entity and the field', () => {
    refused(
      base({ url: 'http://o', tls_verify: true }),
      /service api: "tls_verify" applies only to protocol https/,
    )
    refused(
      base({ url: 'https://o', ca_certificates: ['nope'] }),
      /service api: ca_certificate "nope" is not defined/,
    )
    refused(
      base({ url: 'https://o', client_certificate: { id: 'nope' } }),
      /service api: certificate "nope" is not defined/,
    )
    refused(
      base({ url: 'https://o', tls_verify_depth: 65 }),
      /"tls_verify_depth" must be an integer between 0 and 64/,
    )
    refused(
      base(
        { url: 'https://o' },
        { certificates: [{ id: 'mixed', cert: pki.siteA.cert, key: pki.siteB.key }] },
      ),
      /certificate mixed: certificate does not match key/,
    )
    refused(
      base(
        { url: 'https://o' },
        { certificates: [{ id: 'c', cert: 'not a certificate', key: pki.siteB.key }] },
      ),
      /certificate c: "cert" is not a PEM certificate/,
    )
    refused(
      base(
        { url: 'https://o' },
        { certificates: [{ id: 'c', ...pki.siteA, snis: ['a.example.test'] }] },
      ),
      /certificate c: snis\[0\] must be a mapping \{ name: \.\.\. \} \(Kong's declarative format\)/,
    )
    refused(
      base(
        { url: 'https://o' },
        { certificates: [{ id: 'c', ...pki.siteA, snis: [{ name: 'a.*.test' }] }] },
      ),
      /wildcard must be leftmost or rightmost character/,
    )
    refused(
      base(
        { url: 'https://o' },
        { certificates: [{ id: 'c', ...pki.siteA, snis: [{ name: '10.0.0.1' }] }] },
      ),
      /must not be an IP/,
    )
    refused(
      base(
        { url: 'https://o' },
        {
          certificates: [
            { id: 'c', ...pki.siteA, snis: [{ name: 'x.test' }] },
            { id: 'd', ...pki.siteB, snis: [{ name: 'x.test' }] },
          ],
        },
      ),
      /certificate d: SNI "x.test" is already served by certificate c/,
    )
    refused(
      base({ url: 'https://o' }, { snis: [{ name: 'x.test', certificate: { id: 'none' } }] }),
      /sni x.test: certificate "none" is not defined/,
    )
    refused(
      base({ url: 'https://o' }, { ca_certificates: [{ id: 'leaf', cert: pki.siteA.cert }] }),
      /ca_certificate leaf: certificate does not appear to be a CA/,
    )
    refused(
      base(
        { url: 'https://o' },
        { ca_certificates: [{ id: 'two', cert: pki.caPem + pki.otherCaPem }] },
      ),
      /ca_certificate two: please submit only one certificate at a time/,
    )
    refused(
      base({ url: 'https://o' }, { ca_certificates: [{ id: 'old', cert: expiredCa }] }),
      /ca_certificate old: certificate expired/,
    )
  })

  test("SNI lookup order is Kong's: exact, then *.suffix, then prefix.*", () => {
    assert.deepEqual(sniCandidates('API.Example.com.'), [
      'api.example.com',
      '*.example.com',
      'api.example.*',
    ])
    assert.deepEqual(sniCandidates('localhost'), ['localhost'])
  })
})
