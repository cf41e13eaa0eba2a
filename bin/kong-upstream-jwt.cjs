#!/usr/bin/env node
'use strict'
// CommonJS on purpose: libuv reads UV_THREADPOOL_SIZE once, when its thread pool starts, and
// on Node 18 and 20 loading ES modules starts it; this file runs before any of them.
//
// Unless set, the pool gets one thread per core the event loop leaves free (at least 1, at most
// libuv's default 4; a gateway with several workers shares the free cores among them, see
// src/gateway/threadpool.ts). With a core free the gateway signs on this pool, and a pool no
// larger than the free cores lets one busy thread take signature after signature without a
// wake-up each, where four threads on two cores are woken, and contend, once per signature
// (README, Gateway). DNS lookups, file I/O and the access log's writes share the pool.
if (process.env.UV_THREADPOOL_SIZE === undefined) {
  // src/gateway/threadpool.ts's workerThreadPoolSize(1, cores), which this file cannot load.
  const cores = require('node:os').availableParallelism()
  process.env.UV_THREADPOOL_SIZE = String(Math.min(4, Math.max(1, cores - 1)))
  process.env.KONG_UPSTREAM_JWT_THREADPOOL = 'chosen'
}
import('../dist/cli/main.js')
