/**
 * Remembers token ids until they expire, so that a token is accepted once.
 *
 * @example
 * ```ts
 * const fresh = await store.claim(claims.jti, claims.exp * 1000 + 30_000)
 * ```
 */
export interface ReplayStore {
  /**
   * Records `jti` until `expiresAt` (ms since the epoch). Resolves `true` when it was not seen
   * before, `false` when it was (a replay). Rejects when the store cannot answer.
   */
  claim(jti: string, expiresAt: number): Promise<boolean>
  /** Releases what the store holds (connections it opened itself). */
  close?(): Promise<void> | void
}
