import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { UpstreamJwtError } from '../../src/core/errors.js'
import { createVerifier } from '../../src/verify/verifier.js'
import { loadVectors, VECTORS_DIR } from '../helpers/vectors.js'

const vectors = loadVectors()

describe('conformance vectors', () => {
  it('are all described by vectors/schema.json and named as their files', () => {
    const schema = JSON.parse(readFileSync(resolve(VECTORS_DIR, 'schema.json'), 'utf8'))
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema)
    for (const { file, vector } of vectors) {
      assert.ok(validate(vector), `${basename(file)}: ${JSON.stringify(validate.errors)}`)
      assert.equal(`${vector.name}.json`, basename(file))
    }
  })

  it("cover every case issue 12 lists, and every rule of README's order", () => {
    const names = new Set(vectors.map((v) => v.vector.name))
    for (const name of [
      'valid-rs256',
      'valid-ps256',
      'valid-es256',
      'valid-eddsa',
      'valid-no-body',
      'valid-bearer-prefix',
      'valid-request-binding',
      'valid-legacy-x5c',
      'body-changed-one-byte',
      'empty-body-against-hash',
      'wrong-audience',
      'wrong-issuer',
      'expired',
      'not-yet-valid',
      'alg-none',
      'hs256-with-certificate-key',
      'self-signed-leaf',
      'non-ca-intermediate',
      'expired-intermediate',
      'leaf-without-digital-signature',
      'signature-ecdsa-der',
      'signature-non-canonical-base64url',
      'duplicate-claim',
      'crit-header',
      'jku-header',
      'binding-method-mismatch',
      'binding-path-mismatch',
      'binding-query-mismatch',
    ]) {
      assert.ok(names.has(name), `missing vector ${name}`)
    }
    const checks = new Set(vectors.map((v) => v.vector.check))
    for (const check of [
      'size',
      'structure',
      'header',
      'algorithm',
      'chain',
      'key_usage',
      'signature',
      'claims',
      'body_hash',
      'binding',
    ]) {
      assert.ok(checks.has(check), `no vector for the ${check} rule`)
    }
  })

  it('are what npm run vectors makes from the checked-in PKI (the signer has not drifted)', async () => {
    const script = resolve(VECTORS_DIR, '../scripts/vectors.ts')
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', script, '--check'],
      { timeout: 120_000 },
    )
    assert.match(stdout, new RegExp(`^${vectors.length} vectors are what npm run vectors makes`))
  })

  describe('createVerifier agrees with every vector', () => {
    for (const { file, vector } of vectors) {
      it(`${vector.name}: ${vector.expected}${vector.error ? ` (${vector.error})` : ''}`, async () => {
        const { policy } = vector
        const verifier = createVerifier({
          ca: resolve(dirname(file), policy.ca),
          // Passed even when null ("any audience"), so the policy is stated, never defaulted.
          audience: policy.audience as string | string[] | null,
          ...(policy.issuer !== null ? { issuer: policy.issuer } : {}),
          clockTolerance: policy.clock_tolerance,
          legacyX5c: policy.legacy_x5c,
          clock: () => vector.now * 1000,
        })
        try {
          const request = {
            headers: { jwt: vector.token },
            method: vector.request?.method,
            url: vector.request?.url,
            body: Buffer.from(vector.body_base64, 'base64'),
          }
          if (vector.expected === 'valid') {
            const { claims } = await verifier.verify(request)
            assert.equal(typeof claims.jti, 'string')
          } else {
            await assert.rejects(verifier.verify(request), (err: unknown) => {
              assert.ok(err instanceof UpstreamJwtError, String(err))
              assert.equal(err.code, vector.error, err.message)
              return true
            })
          }
        } finally {
          await verifier.close()
        }
      })
    }
  })
})
