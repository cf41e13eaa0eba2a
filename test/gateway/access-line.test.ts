import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Logger, pino } from 'pino'
import { hundredths, jsonString, writeAccessLine } from '../../src/gateway/access-line.js'
import type { Exchange } from '../../src/gateway/exchange.js'
import { GatewayMetrics } from '../../src/gateway/metrics.js'
import { accessRecord, log } from '../../src/gateway/steps/log.js'

/** A pino logger writing into an array, with a fixed time so two lines can be compared. */
function capture(options: pino.LoggerOptions = {}): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const logger = pino(
    { name: 'kong-upstream-jwt', timestamp: () => ',"time":1700000000000', ...options },
    { write: (s: string) => void lines.push(s) },
  )
  return { logger, lines }
}

const HOSTILE = [
  'plain',
  '',
  'quote " and backslash \\ and slash /',
  'controls \u0000\u0001\b\f\n\r\t\u001f and DEL \u007f',
  'unicode é 漢字 😀 \u2028\u2029',
  'lone high \ud800 surrogate',
  'lone low \udc00 surrogate',
  'reversed pair \udc00\ud800',
  '</script><script>alert(1)</script>',
  '{"injected":true}',
]

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzZWNyZXQiOiJ0b2tlbiJ9.c2lnbmF0dXJl'

/** The fields the log step reads, as a request leaves them. */
function exchange(s: string, overrides: Partial<Record<keyof Exchange, unknown>> = {}): Exchange {
  return {
    method: s || 'GET',
    path: `/p/${s}`,
    routeName: `route ${s}`,
    serviceName: `service ${s}`,
    consumerName: `consumer ${s}`,
    status: 200,
    signMs: 0.123456,
    upstreamMs: 1.98765,
    body: { digest: { size: 1024 } },
    token: { value: `Bearer ${TOKEN}`, token: TOKEN, kid: 'kid-1', claims: { jti: `jti ${s}` } },
    nonce: undefined,
    upstream: undefined,
    error: undefined,
    ...overrides,
  } as unknown as Exchange
}

describe('access line writer', () => {
  test('jsonString is JSON.stringify for every hostile string', () => {
    for (const s of HOSTILE) {
      assert.equal(jsonString(s), JSON.stringify(s))
      assert.equal(JSON.parse(jsonString(s)), s)
    }
    for (let c = 0; c < 0x10000; c++) {
      const s = `a${String.fromCharCode(c)}b`
      assert.equal(jsonString(s), JSON.stringify(s), `U+${c.toString(16)}`)
    }
  })

  test('hundredths writes the number JSON.stringify writes for the rounded milliseconds', () => {
    const reference = (ms: number) => JSON.stringify(Math.round(ms * 100) / 100)
    const check = (ms: number) => assert.equal(hundredths(ms), reference(ms), String(ms))
    for (let c = 0; c < 300_000; c++) check(c / 100)
    for (let i = 0; i < 200_000; i++) check(Math.random() * 10 ** (i % 12))
    for (const ms of [
      0,
      -0,
      0.004999,
      0.005,
      0.015,
      1.005,
      1.2049,
      9.995,
      99.995,
      -0.004,
      -1.5,
      -1234.567,
      2 ** 44,
      2 ** 46 / 100,
      2 ** 46 / 100 - 0.01,
      2 ** 53,
      1e21,
      Number.MAX_VALUE,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ])
      check(ms)
  })

  test('writes the very line pino writes for the access record, with hostile values', () => {
    const ours = capture()
    const theirs = capture()
    for (const s of HOSTILE) {
      const x = exchange(s)
      writeAccessLine(ours.logger, x, 12.3456, () => accessRecord(x, 12.3456))
      theirs.logger.info(accessRecord(x, 12.3456), 'request')
    }
    ours.lines.forEach((line, i) => {
      const s = HOSTILE[i] as string
      // pino writes a lone surrogate raw (it becomes U+FFFD on the way out); we escape it, so the
      // line stays well-formed UTF-8 and parses back to the very string. Every other line is pino's.
      if (!LONE_SURROGATE.test(s)) assert.equal(line, theirs.lines[i])
      assert.equal(Buffer.from(line).toString(), line, 'well-formed UTF-8')
      const parsed = JSON.parse(line)
      assert.equal(parsed.method, s || 'GET')
      assert.equal(parsed.path, `/p/${s}`)
      assert.equal(parsed.route, `route ${s}`)
      assert.equal(parsed.service, `service ${s}`)
      assert.equal(parsed.consumer, `consumer ${s}`)
      assert.equal(parsed.jti, `jti ${s}`)
      assert.equal(parsed.latency_ms, 12.35)
      assert.equal(parsed.signing_ms, 0.12)
      assert.equal(parsed.upstream_ms, 1.99)
      assert.equal(parsed.body_bytes, 1024)
      assert.equal(parsed.level, 30)
      assert.equal(parsed.msg, 'request')
      assert.ok(line.endsWith('}\n'))
    })
  })

  test('leaves out what a request did not have, and writes a non-finite number as null', () => {
    const ours = capture()
    const theirs = capture()
    const x = exchange('x', {
      routeName: '',
      serviceName: '',
      consumerName: undefined,
      signMs: undefined,
      upstreamMs: undefined,
      body: undefined,
      token: undefined,
      nonce: 'nonce-1',
      upstream: '127.0.0.1:1',
      error: 'ERR_UPSTREAM_UNREACHABLE: "x"\n',
      status: 502,
    })
    writeAccessLine(ours.logger, x, Number.NaN, () => accessRecord(x, Number.NaN))
    theirs.logger.info(accessRecord(x, Number.NaN), 'request')
    assert.deepEqual(ours.lines, theirs.lines)
    assert.deepEqual(Object.keys(JSON.parse(ours.lines[0] as string)), [
      'level',
      'time',
      'pid',
      'hostname',
      'name',
      'method',
      'path',
      'status',
      'latency_ms',
      'jti',
      'upstream',
      'error',
      'msg',
    ])
    assert.equal(JSON.parse(ours.lines[0] as string).latency_ms, null)
  })

  test('never writes the token', () => {
    const { logger, lines } = capture()
    const x = exchange('x')
    writeAccessLine(logger, x, 1, () => accessRecord(x, 1))
    assert.equal(lines.length, 1)
    assert.ok(!(lines[0] as string).includes(TOKEN))
    assert.ok(!(lines[0] as string).includes('eyJ'))
  })

  test('a logger it does not reproduce (mixin, serializer) gets the line through pino; child bindings are kept', () => {
    const mixin = capture({ mixin: () => ({ worker: 7 }) })
    const x = exchange('x')
    writeAccessLine(mixin.logger, x, 1, () => accessRecord(x, 1))
    assert.equal(JSON.parse(mixin.lines[0] as string).worker, 7)

    const serializer = capture({ serializers: { path: () => '[redacted]' } })
    writeAccessLine(serializer.logger, x, 1, () => accessRecord(x, 1))
    assert.equal(JSON.parse(serializer.lines[0] as string).path, '[redacted]')

    const parent = capture()
    const child = parent.logger.child({ worker_pid: 42 })
    writeAccessLine(child, x, 1, () => accessRecord(x, 1))
    assert.equal(JSON.parse(parent.lines[0] as string).worker_pid, 42)
  })

  test('the log step keeps the levels: info line, error line for 5xx, none at warn', () => {
    const metrics = new GatewayMetrics()
    const info = capture({ level: 'info' })
    log(exchange('a', { started: performance.now() }), metrics, info.logger)
    log(exchange('b', { started: performance.now(), status: 503 }), metrics, info.logger)
    assert.deepEqual(
      info.lines.map((l) => JSON.parse(l).level),
      [30, 50],
    )
    const warn = capture({ level: 'warn' })
    log(exchange('a', { started: performance.now() }), metrics, warn.logger)
    log(exchange('b', { started: performance.now(), status: 502 }), metrics, warn.logger)
    assert.deepEqual(
      warn.lines.map((l) => JSON.parse(l).status),
      [502],
    )
  })
})
