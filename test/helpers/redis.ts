import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { freePort } from '../../testing/ports.js'

export function haveRedis(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** A real redis-server on a free port, no persistence; `stop()` ends it. */
export interface RedisServer {
  readonly url: string
  readonly port: number
  stop(): Promise<void>
}

export async function startRedis(extra: string[] = [], cwd?: string): Promise<RedisServer> {
  const port = await freePort()
  const child: ChildProcess = spawn(
    'redis-server',
    [
      ...extra,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'yes',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) },
  )
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000)
    child.stdout?.on('data', (d) => {
      out += d
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with ${code}: ${out}`))
    })
  })
  let stopped = false
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => {
      if (stopped) return Promise.resolve()
      stopped = true
      return new Promise((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    },
  }
}

/**
 * A real Redis Cluster of `size` masters on free ports (cluster config files in `dir`), slots
 * assigned with `redis-cli --cluster create`; resolves once `cluster_state:ok`.
 */
export async function startRedisCluster(
  dir: string,
  size = 3,
): Promise<{ nodes: RedisServer[]; stop(): Promise<void> }> {
  const nodes: RedisServer[] = []
  const stop = () => Promise.all(nodes.map((n) => n.stop())).then(() => undefined)
  try {
    for (let i = 0; i < size; i++) {
      nodes.push(
        await startRedis(
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${i}.conf`,
            '--cluster-node-timeout',
            '2000',
          ],
          dir,
        ),
      )
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`)
    execFileSync(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
      { stdio: 'ignore' },
    )
    for (let i = 0; i < 100; i++) {
      const info = execFileSync('redis-cli', ['-p', String(nodes[0]?.port), 'cluster', 'info'], {
        encoding: 'utf8',
      })
      if (info.includes('cluster_state:ok')) return { nodes, stop }
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error('the Redis Cluster did not reach cluster_state:ok')
  } catch (err) {
    await stop()
    throw err
  }
}
