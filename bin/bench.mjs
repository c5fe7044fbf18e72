#!/usr/bin/env node
// npm run bench [name...]: runs bench/<name>.bench.ts (all when none given); each prints JSON lines
// {"bench","metric","value","unit","baseline"?}. Each file runs in its own process for clean timings.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from './node-flags.mjs';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench');
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}; available: ${readdirSync(dir).join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, '--import', 'tsx', '--expose-gc', path.join(dir, f)], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${f} exited with ${r.status}`);
  }
}
process.exit(failed ? 1 : 0);
