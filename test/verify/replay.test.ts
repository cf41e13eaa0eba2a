import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Cluster, Redis } from 'ioredis'
import { digestBytes } from '../../src/core/body-digest.js'
import { VerificationError } from '../../src/core/errors.js'
import { createSigner } from '../../src/signer/signer.js'
import { MemoryReplayStore } from '../../src/verify/replay/memory.js'
import { RedisReplayStore } from '../../src/verify/replay/redis.js'
import { createVerifier } from '../../src/verify/verifier.js'
import { makePki } from '../../testing/pki.js'
import { tempDir } from '../../testing/tmp.js'
import { haveRedis, type RedisServer, startRedis, startRedisCluster } from '../helpers/redis.js'

test('memory store: first use true, replay false, expired ids forgotten, bounded', async () => {
  let now = 1_000_000
  const store = new MemoryReplayStore({ max: 3, clock: () => now })
  assert.equal(await store.claim('a', now + 1000), true)
  assert.equal(await store.claim('a', now + 1000), false)
  now += 1001
  assert.equal(
    await store.claim('a', now + 1000),
    true,
    'after expiry the id may be used again (the token itself is expired)',
  )
  await store.claim('b', now + 10)
  await store.claim('c', now + 5000)
  now += 20
  await store.claim('d', now + 5000)
  assert.equal(store.size, 3, 'the expired b was swept to make room')
  await store.claim('e', now + 5000)
  assert.equal(store.size, 3)
})

const redisAvailable = haveRedis()
if (!redisAvailable && process.env.CI)
  throw new Error('redis-server is required in CI (.ci/run installs it)')

// Each test carries the skip (not the suite): node:test counts skipped tests, not suites, so the
// summary shows "skipped 5" when redis-server is missing instead of a silent "skipped 0".
const skip = redisAvailable ? false : 'redis-server not installed'

describe('Redis replay store (real redis-server)', () => {
  let server: RedisServer
  const clients: { quit(): Promise<unknown> }[] = []
  before(async () => {
    if (redisAvailable) server = await startRedis()
  })
  after(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => {})))
    await server?.stop()
  })

  test('SET NX PX: one winner, with the expiry set', { skip }, async () => {
    const client = new Redis(server.url)
    clients.push(client)
    const store = new RedisReplayStore(client, { prefix: 't1:' })
    const exp = Date.now() + 60_000
    assert.equal(await store.claim('jti-1', exp), true)
    assert.equal(await store.claim('jti-1', exp), false)
    const ttl = await client.pttl('t1:jti-1')
    assert.ok(ttl > 55_000 && ttl <= 60_000, `ttl ${ttl}`)
  })

  test('two stores (two upstream instances) never both accept a jti', { skip }, async () => {
    const a = await RedisReplayStore.connect(server.url, { prefix: 't2:' })
    const b = await RedisReplayStore.connect(server.url, { prefix: 't2:' })
    const exp = Date.now() + 60_000
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).claim('shared', exp)),
    )
    assert.equal(results.filter(Boolean).length, 1)
    await a.close()
    await b.close()
  })

  test('Redis down: the store rejects quickly instead of hanging', { skip }, async () => {
    const down = await startRedis()
    const store = await RedisReplayStore.connect(down.url, { timeout: 300 })
    assert.equal(await store.claim('x', Date.now() + 1000), true)
    await down.stop()
    const started = Date.now()
    await assert.rejects(store.claim('y', Date.now() + 1000))
    assert.ok(Date.now() - started < 5000)
    await store.close()
  })

  test('Redis Cluster (3 masters): one winner per jti, whichever slot it hashes to', {
    skip,
  }, async (t) => {
    const dir = await tempDir(t)
    const cluster = await startRedisCluster(dir)
    t.after(() => cluster.stop())
    const client = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })))
    t.after(() => client.quit().catch(() => {}))
    const a = new RedisReplayStore(client, { prefix: 'c:' })
    const b = new RedisReplayStore(client, { prefix: 'c:' })
    const exp = Date.now() + 60_000
    const jtis = Array.from({ length: 30 }, (_, i) => `jti-${i}`)
    const first = await Promise.all(jtis.map((j) => a.claim(j, exp)))
    const second = await Promise.all(jtis.map((j) => b.claim(j, exp)))
    assert.deepEqual(
      first,
      jtis.map(() => true),
    )
    assert.deepEqual(
      second,
      jtis.map(() => false),
    )
    const owners = new Set(
      await Promise.all(
        jtis.map(async (j) => (await client.cluster('KEYSLOT', `c:${j}`)) as number),
      ),
    )
    assert.ok(owners.size > 10, 'the keys spread over many slots')
  })

  test('through the verifier: a replay is refused, Redis down answers 503', { skip }, async (t) => {
    const dir = await tempDir(t)
    const pki = await makePki(dir)
    const signer = await createSigner(
      {
        private_key_location: pki.files.key,
        public_key_location: pki.files.chain,
        algorithm: 'ES256',
      },
      { env: {} },
    )
    const own = await startRedis()
    t.after(() => own.stop())
    const store = await RedisReplayStore.connect(own.url, { timeout: 300 })
    t.after(() => store.close())
    const verifier = createVerifier({ ca: pki.files.rootPem, audience: null, replay: store })
    const request = { headers: { jwt: await signer.sign({ body: digestBytes('x') }) }, body: 'x' }
    await verifier.verify(request)
    await assert.rejects(verifier.verify(request), { code: 'ERR_TOKEN_REPLAYED' })
    await own.stop()
    const fresh = { headers: { jwt: await signer.sign({ body: digestBytes('x') }) }, body: 'x' }
    await assert.rejects(verifier.verify(fresh), (err: unknown) => {
      assert.ok(err instanceof VerificationError)
      assert.equal(err.code, 'ERR_REPLAY_STORE_UNAVAILABLE')
      assert.equal(err.status, 503)
      return true
    })
  })
})
