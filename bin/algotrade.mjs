#!/usr/bin/env -S node --max-semi-space-size=64
// Entry point: TypeScript sources run directly through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../packages/cli/src/main.ts');
