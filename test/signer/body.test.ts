import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import fc from 'fast-check'
import { BodyHasher, digestBytes, digestStream, payloadHash } from '../../src/core/body-digest.js'
import { BodyError } from '../../src/core/errors.js'
import { spoolBody } from '../../src/gateway/body-spool.js'
import { tempDir } from '../../testing/tmp.js'

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex')

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

test('property: hashing in any chunking equals one SHA-256 of the whole', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
      const hasher = new BodyHasher()
      for (const c of chunks) hasher.update(c)
      const whole = Buffer.concat(chunks)
      assert.deepEqual(hasher.digest(), { size: whole.length, sha256: sha256(whole) })
    }),
  )
})

test('strings are hashed as UTF-8', () => {
  assert.equal(digestBytes('é').sha256, sha256(Buffer.from('é', 'utf8')))
  assert.equal(digestBytes('é').size, 2)
})

test('digestBytes: exactly the bytes of a view, none before or after it; empty input', () => {
  const whole = Buffer.from('0123456789abcdef')
  const view = new Uint8Array(whole.buffer, whole.byteOffset + 3, 5)
  assert.deepEqual(digestBytes(view), { size: 5, sha256: sha256('34567') })
  assert.deepEqual(digestBytes(whole.subarray(10)), { size: 6, sha256: sha256('abcdef') })
  assert.deepEqual(digestBytes(new Uint8Array(0)), { size: 0, sha256: sha256('') })
})

test('payloadHash: "" for empty or absent, hex otherwise', () => {
  assert.equal(payloadHash(undefined), '')
  assert.equal(payloadHash(digestBytes('')), '')
  assert.equal(payloadHash(digestBytes('a')), sha256('a'))
})

test('the limit is enforced while reading: 413 with the limit', () => {
  const hasher = new BodyHasher({ limit: 10 })
  hasher.update(Buffer.alloc(10))
  assert.throws(
    () => hasher.update(Buffer.alloc(1)),
    (err: unknown) => {
      assert.ok(err instanceof BodyError)
      assert.equal(err.code, 'ERR_BODY_TOO_LARGE')
      assert.equal(err.status, 413)
      assert.equal(err.limit, 10)
      return true
    },
  )
})

test('update after digest is a programming error', () => {
  const hasher = new BodyHasher()
  hasher.digest()
  assert.throws(() => hasher.update('x'), TypeError)
})

test('digestStream hashes a stream and turns stream failures into ERR_BODY_READ', async () => {
  const data = randomBytes(300_000)
  assert.deepEqual(await digestStream(Readable.from([data.subarray(0, 7), data.subarray(7)])), {
    size: data.length,
    sha256: sha256(data),
  })
  const failing = new Readable({
    read() {
      this.destroy(new Error('socket hang up'))
    },
  })
  await assert.rejects(
    digestStream(failing),
    (err: unknown) =>
      err instanceof BodyError && err.code === 'ERR_BODY_READ' && err.status === 400,
  )
})

test('spoolBody keeps a small body in memory and replays it exactly', async (t) => {
  const dir = await tempDir(t)
  const data = Buffer.from('{"small":true}')
  await using body = await spoolBody(Readable.from([data]), { tmpDir: dir, memoryLimit: 1024 })
  assert.equal(body.file, undefined)
  assert.deepEqual(body.bytes, data)
  assert.deepEqual(body.digest, { size: data.length, sha256: sha256(data) })
  assert.deepEqual(await collect(body.stream()), data)
  assert.deepEqual(await collect(body.stream()), data, 'replayable')
  assert.deepEqual(await readdir(dir), [])
})

test('spoolBody: exactly the memory limit stays in memory, one byte more goes to disk', async (t) => {
  const dir = await tempDir(t)
  const limit = 4096
  const atLimit = await spoolBody(Readable.from([randomBytes(limit)]), {
    tmpDir: dir,
    memoryLimit: limit,
  })
  assert.equal(atLimit.file, undefined)
  const over = randomBytes(limit + 1)
  const spooled = await spoolBody(Readable.from([over.subarray(0, 100), over.subarray(100)]), {
    tmpDir: dir,
    memoryLimit: limit,
  })
  assert.ok(spooled.file)
  assert.equal(spooled.bytes, undefined)
  assert.equal((await stat(spooled.file)).mode & 0o777, 0o600)
  assert.deepEqual(await collect(spooled.stream()), over)
  assert.equal(spooled.digest.sha256, sha256(over))
  await spooled.dispose()
  await spooled.dispose()
  assert.deepEqual(await readdir(dir), [])
})

test('spoolBody: 20 MiB in many chunks is hashed and replayed exactly', async (t) => {
  const dir = await tempDir(t)
  const chunk = randomBytes(64 * 1024)
  const count = 320
  const hash = createHash('sha256')
  for (let i = 0; i < count; i++) hash.update(chunk)
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < count; i++) yield chunk
    })(),
  )
  await using body = await spoolBody(source, { tmpDir: dir })
  assert.equal(body.digest.size, count * chunk.length)
  assert.equal(body.digest.sha256, hash.digest('hex'))
  const replay = createHash('sha256')
  let size = 0
  for await (const c of body.stream()) {
    replay.update(c as Buffer)
    size += (c as Buffer).length
  }
  assert.equal(size, count * chunk.length)
  assert.equal(replay.digest('hex'), body.digest.sha256)
})

test('spoolBody over maxSize: 413 and no temp file left', async (t) => {
  const dir = await tempDir(t)
  const source = Readable.from([randomBytes(3000), randomBytes(3000)])
  await assert.rejects(
    spoolBody(source, { tmpDir: dir, memoryLimit: 1000, maxSize: 5000 }),
    (err: unknown) => err instanceof BodyError && err.code === 'ERR_BODY_TOO_LARGE',
  )
  assert.deepEqual(await readdir(dir), [])
})

test('spoolBody: a client that goes away mid-body leaves no temp file', async (t) => {
  const dir = await tempDir(t)
  let sent = 0
  const source = new Readable({
    read() {
      if (sent++ < 3) this.push(randomBytes(2000))
      else this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
    },
  })
  await assert.rejects(
    spoolBody(source, { tmpDir: dir, memoryLimit: 1000 }),
    (err: unknown) => err instanceof BodyError && err.code === 'ERR_BODY_READ',
  )
  assert.deepEqual(await readdir(dir), [])
})

test('spoolBody: an abort signal stops reading and removes the file', async (t) => {
  const dir = await tempDir(t)
  const controller = new AbortController()
  let sent = 0
  const source = new Readable({
    read() {
      sent++
      if (sent === 3) controller.abort()
      this.push(randomBytes(2000))
    },
  })
  await assert.rejects(
    spoolBody(source, { tmpDir: dir, memoryLimit: 1000, signal: controller.signal }),
    { code: 'ERR_BODY_READ' },
  )
  assert.deepEqual(await readdir(dir), [])
})

test('spoolBody of nothing: empty digest', async () => {
  const body = await spoolBody(Readable.from([]))
  assert.deepEqual(body.digest, { size: 0, sha256: sha256('') })
  assert.deepEqual(await collect(body.stream()), Buffer.alloc(0))
})
