// V8 flags the all-in-one process runs with: package.json's `start` and `algotrade` scripts and the
// `#!` line of bin/algotrade.mjs spell them out (they cannot import this); the benchmarks start their
// processes with these so engines are measured as they run. See docs/operations.md (Node's heap).
export const NODE_FLAGS = ['--max-semi-space-size=64'];
