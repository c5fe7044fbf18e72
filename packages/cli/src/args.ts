/**
 * A mistake in what the user typed (a flag, a value, a file that is not there): printed as
 * `error: <message>` with no stack trace, exit status 2. Anything else is a fault and keeps its stack.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Minimal `--flag value` / `--switch` parser; unknown flags are an error, so typos do not pass silently. */
export function parseArgs(
  argv: string[],
  spec: Record<string, 'string' | 'boolean'>,
): { flags: Record<string, string | boolean>; positional: string[] } {
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const kind = spec[name];
    if (!kind)
      throw new UsageError(
        `unknown option --${name}; options: ${Object.keys(spec)
          .map((k) => `--${k}`)
          .join(' ')}`,
      );
    if (kind === 'boolean') flags[name] = true;
    else {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      flags[name] = v;
    }
  }
  return { flags, positional };
}

/** A whole-number flag from `min` to `max`, `def` when left out. */
export const int = (v: string | boolean | undefined, name: string, def: number, min: number, max: number) => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got ${v})`);
  return n;
};

/** A progress bar on stderr (a line every 10% when stderr is not a terminal). */
export function progressBar(label: string) {
  const tty = process.stderr.isTTY;
  let lastPct = -1;
  return {
    update(p: number) {
      const pct = Math.floor(p * 100);
      if (pct === lastPct) return;
      if (tty) {
        const w = 30;
        const full = Math.round((pct / 100) * w);
        process.stderr.write(`\r${label} [${'█'.repeat(full)}${'░'.repeat(w - full)}] ${String(pct).padStart(3)}%`);
      } else if (pct % 10 === 0) process.stderr.write(`${label} ${pct}%\n`);
      lastPct = pct;
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}
