#!/usr/bin/env node
// Works around npm/cli#4828 / #8320: npm (here 11.19) leaves other platforms' optional native
// packages (rollup, msgpackr-extract) out of package-lock.json, and `npm ci` then refuses the lock.
// This adds the missing entries (version, os/cpu/libc from the registry, optional) after `npm install`.
// Run: node scripts/fix-lockfile.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [where, meta] of Object.entries(pkgs)) {
  for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (pkgs[key] || pkgs[`${where}/node_modules/${name}`]) continue;
    const version = range.replace(/^[\^~=]/, '');
    let info = {};
    try {
      info = JSON.parse(
        execFileSync(
          'npm',
          ['view', `${name}@${version}`, 'version', 'os', 'cpu', 'libc', 'license', 'integrity', '--json'],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
        ) || '{}',
      );
    } catch {
      // the registry reached here may not carry other platforms' binaries: derive os/cpu from the name
      const os = [
        'darwin',
        'linux',
        'win32',
        'android',
        'freebsd',
        'openbsd',
        'openharmony',
        'sunos',
        'aix',
        'netbsd',
      ].find((o) => name.includes(`-${o}`));
      const cpu = ['arm64', 'x64', 'ia32', 'arm', 'loong64', 'ppc64', 'riscv64', 's390x', 'mips64el'].find((c) =>
        new RegExp(`-${c}(-|$)`).test(name),
      );
      info = { os, cpu, libc: /-musl/.test(name) ? 'musl' : /-gnu/.test(name) ? 'glibc' : undefined };
    }
    pkgs[key] = {
      version: info.version ?? version,
      ...(info.integrity ? { integrity: info.integrity } : {}),
      ...(info.license ? { license: info.license } : {}),
      optional: true,
      ...(info.os ? { os: [].concat(info.os) } : {}),
      ...(info.cpu ? { cpu: [].concat(info.cpu) } : {}),
      ...(info.libc ? { libc: [].concat(info.libc) } : {}),
    };
    if (meta.dev) pkgs[key].dev = true;
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log(`added ${added} missing optional platform packages to package-lock.json`);
