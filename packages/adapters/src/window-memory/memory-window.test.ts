import { windowContract } from '../../../../test/contracts/window.contract.ts';
import { MemoryWindowStore } from './memory-window.ts';

const clocks = new WeakMap<object, { t: number }>();
windowContract('memory', {
  make: async (o) => {
    const clock = { t: Date.now() };
    const w = new MemoryWindowStore({ ...o, now: () => clock.t });
    clocks.set(w, clock);
    return w;
  },
  idle: async (w, s) => {
    clocks.get(w)!.t += s * 1000 + 1;
  },
});
