import { setFlagsFromString } from 'node:v8'

/**
 * Has V8 release the memory of dead ArrayBuffers (Buffers) within the collection that finds
 * them dead, on the main thread, instead of in a background job whose result is only taken
 * in later (V8's `--concurrent-array-buffer-sweeping`, on by default).
 *
 * Why: every 64 KiB read from a socket is a new Buffer, and V8 counts its bytes as external
 * memory until the sweep of that Buffer is taken in. With the sweep in the background, a large
 * upload to a gateway that has served any traffic before drives that count past V8's limit
 * over and over, and each time V8 answers with a full mark-compact of the heap: measured on
 * the 2-core bench machine (Node 20, `--trace-gc`), 18 mark-compacts per 512 MiB upload and
 * 297–335 MiB/s; with the sweep inline, none and 408–523 MiB/s, and the same CPU per request
 * for 1 KiB requests (ES256, 1 and 2 workers, A/B runs of 5 reps). The total sweeping work is
 * the same, it only moves to the thread that frees the Buffers.
 *
 * It changes a V8 flag for the whole process, so the `gateway` command calls it for its own
 * processes; an application that embeds `startGateway` decides for itself. V8 reads the flag
 * each time it starts a sweep, so calling it after start-up is safe; a sweep already running
 * in the background finishes as before.
 *
 * @example
 * ```ts
 * import { sweepArrayBuffersInline, startGateway } from 'kong-upstream-jwt/gateway'
 * sweepArrayBuffersInline()
 * await startGateway({ config: './kong.yml' })
 * ```
 */
export function sweepArrayBuffersInline(): void {
  setFlagsFromString('--no-concurrent-array-buffer-sweeping')
}
