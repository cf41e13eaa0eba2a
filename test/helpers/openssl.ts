import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const exec = promisify(execFile)

/** Runs the openssl CLI; resolves stdout, rejects with stderr on a non-zero exit. */
export async function openssl(args: string[], input?: Buffer): Promise<string> {
  if (input === undefined) return (await exec('openssl', args, { encoding: 'utf8' })).stdout
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')} failed: ${stderr}`))
      else resolve(stdout)
    })
    child.stdin?.end(input)
  })
}

function derInteger(bytes: Buffer): Buffer {
  let i = 0
  while (i < bytes.length - 1 && bytes[i] === 0) i++
  let v = bytes.subarray(i)
  if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v])
  return Buffer.concat([Buffer.from([0x02]), derLength(v.length), v])
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  return n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
}

/** JOSE r||s (RFC 7518 §3.4) → the DER ECDSA-Sig-Value openssl expects. Written here, not
 * taken from the code under test, so the openssl check stays independent. */
export function p1363ToDer(sig: Buffer): Buffer {
  const half = sig.length / 2
  const body = Buffer.concat([derInteger(sig.subarray(0, half)), derInteger(sig.subarray(half))])
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body])
}
