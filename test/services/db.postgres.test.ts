import { encodeLedger, forwardTestsRepo, openDatabase, usersRepo } from '@algotrade/adapters';
import { applyFill, newLedger, planOrder } from '@algotrade/core';
import { migrations } from '@algotrade/adapters/db/migrations';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { dbContract } from '../contracts/db.contract.ts';
import { SERVICES, uniqueName } from '../helpers/env.ts';

const schema = uniqueName('t');
dbContract(
  'postgres',
  () => openDatabase({ backend: 'postgres', url: SERVICES.postgres }, { searchPath: schema }),
  async () => {
    const c = new pg.Client(SERVICES.postgres);
    await c.connect();
    await c.query(`drop schema if exists "${schema}" cascade`);
    await c.end();
  },
);

describe('migrations on PostgreSQL', () => {
  it('run once when several processes open a fresh database at the same time', async () => {
    for (let round = 0; round < 3; round++) {
      const s = uniqueName('mig');
      // each handle has its own pool, so the six migrations race on the server as separate processes would
      const handles = await Promise.all(
        Array.from({ length: 6 }, () =>
          openDatabase({ backend: 'postgres', url: SERVICES.postgres }, { searchPath: s }),
        ),
      );
      try {
        const ids = (await handles[0]!.db.selectFrom('schema_migrations').select('id').execute()).map((r) => r.id);
        expect(ids.sort((a, b) => a - b)).toEqual(migrations.map((m) => m.id));
      } finally {
        await Promise.all(handles.map((h) => h.close()));
        const c = new pg.Client(SERVICES.postgres);
        await c.connect();
        await c.query(`drop schema if exists "${s}" cascade`);
        await c.end();
      }
    }
  });
});

const cfg = {
  startingBalance: 1000,
  feeRate: 0,
  feeFixed: 0,
  slippageBps: 0,
  allowShort: false,
  wholeUnits: false,
};

/** A scratch schema with one user's running paper session on BTCUSD, for `test`; dropped after it. */
async function withRunningSession(
  test: (x: {
    h: Awaited<ReturnType<typeof openDatabase>>;
    repo: ReturnType<typeof forwardTestsRepo>;
    row: { id: string };
    u: { id: string };
  }) => Promise<void>,
): Promise<void> {
  const s = uniqueName('tl');
  const h = await openDatabase({ backend: 'postgres', url: SERVICES.postgres }, { searchPath: s });
  try {
    const u = (await usersRepo(h.db).create(`race-${Date.now()}@x.io`, 'h'))!;
    const repo = forwardTestsRepo(h.db);
    const row = await repo.create({
      userId: u.id,
      strategyId: null,
      snapshot: { graph: {} },
      symbol: 'BTCUSD',
      config: cfg,
      state: newLedger(cfg),
    });
    await repo.setStatus(row.id, 'running');
    await test({ h, repo, row, u });
  } finally {
    await h.close();
    const c = new pg.Client(SERVICES.postgres);
    await c.connect();
    await c.query(`drop schema if exists "${s}" cascade`);
    await c.end();
  }
}

/**
 * `first` made inside a transaction not committed yet while `other` runs on another connection of the
 * pool: `other` waits on the row's lock until the transaction commits (checked: not done 300 ms later).
 */
async function whileHeld(
  h: Awaited<ReturnType<typeof openDatabase>>,
  first: (r: ReturnType<typeof forwardTestsRepo>) => Promise<unknown>,
  other: () => Promise<unknown>,
): Promise<void> {
  let second: Promise<unknown> | undefined;
  let done = false;
  await h.db.transaction().execute(async (trx) => {
    await first(forwardTestsRepo(trx));
    second = other().then(() => void (done = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
  });
  await second;
}

describe("a paper session's resting orders by hand on PostgreSQL", () => {
  it('keeps both changes when two writers change the list at once (each writes only its change)', async () => {
    await withRunningSession(async ({ h, repo, row }) => {
      const order = (id: string) => ({ id, type: 'limit', price: 1 });
      const ids = async () => ((await repo.get(row.id))!.openOrders as { id: string }[]).map((o) => o.id);
      await whileHeld(
        h,
        (r) => r.changeOpenOrders(row.id, [order('x')], []),
        () => repo.changeOpenOrders(row.id, [order('y')], []),
      );
      expect(await ids()).toEqual(['x', 'y']);
      // one takes x out while the other adds z
      await whileHeld(
        h,
        (r) => r.changeOpenOrders(row.id, [], ['x']),
        () => repo.changeOpenOrders(row.id, [order('z')], []),
      );
      expect(await ids()).toEqual(['y', 'z']);
      expect(await repo.changeOpenOrders(row.id, [], ['y', 'z'])).toBe(true);
      expect(await ids()).toEqual([]);
      // stopped: nothing rests, and nothing more is written
      await repo.changeOpenOrders(row.id, [order('w')], []);
      await repo.setStatus(row.id, 'stopped');
      expect(await ids()).toEqual([]);
      expect(await repo.changeOpenOrders(row.id, [order('v')], [])).toBe(false);
      expect(await ids()).toEqual([]);
    });
  });

  it("moves trailing stops' extremes only onward, whatever order the saves land in", async () => {
    await withRunningSession(async ({ repo, row }) => {
      const trail = (id: string, side: string, extreme: number) => ({ id, type: 'trailing_stop', side, extreme });
      const kept = async () => (await repo.get(row.id))!.openOrders as { id: string; extreme?: number }[];
      await repo.changeOpenOrders(
        row.id,
        [trail('s', 'sell', 100), trail('b', 'buy', 100), { id: 'l', type: 'limit', side: 'buy', price: 90 }],
        [],
      );
      const save = (s: number, b: number) =>
        repo.saveTrails([
          { sessionId: row.id, orderId: 's', extreme: s },
          { sessionId: row.id, orderId: 'b', extreme: b },
          { sessionId: row.id, orderId: 'l', extreme: 1 }, // not a trailing stop: left alone
          { sessionId: row.id, orderId: 'gone', extreme: 1 },
        ]);
      await save(120, 80);
      // an older save landing later moves nothing back
      await save(110, 90);
      expect((await kept()).map((o) => [o.id, o.extreme])).toEqual([
        ['s', 120],
        ['b', 80],
        ['l', undefined],
      ]);
      // two at once, each from its own connection: the best of both
      await Promise.all([save(130, 85), save(125, 70)]);
      expect((await kept()).map((o) => o.extreme)).toEqual([130, 70, undefined]);
      await repo.setStatus(row.id, 'stopped');
      await save(200, 10);
      expect(await kept()).toEqual([]);
    });
  });

  it('amends an order in its place, and never brings back one taken out meanwhile', async () => {
    await withRunningSession(async ({ h, repo, row }) => {
      const order = (id: string, price = 1) => ({ id, type: 'limit', price });
      const kept = async () => (await repo.get(row.id))!.openOrders as { id: string; price: number }[];
      await repo.changeOpenOrders(row.id, [order('x'), order('y'), order('z')], []);
      expect(await repo.replaceOpenOrder(row.id, 'y', order('y', 2))).toBe(true);
      expect(await kept()).toEqual([order('x'), order('y', 2), order('z')]);
      // y filled through one connection while the other amends it: the amend waits, then finds it gone
      let amended: boolean | undefined;
      await whileHeld(
        h,
        (r) => r.changeOpenOrders(row.id, [], ['y']),
        async () => (amended = await repo.replaceOpenOrder(row.id, 'y', order('y', 3))),
      );
      expect(amended).toBe(false);
      expect(await kept()).toEqual([order('x'), order('z')]);
      // an amend and an order placed at once: both kept
      await whileHeld(
        h,
        (r) => r.replaceOpenOrder(row.id, 'z', order('z', 4)),
        () => repo.changeOpenOrders(row.id, [order('w')], []),
      );
      expect(await kept()).toEqual([order('x'), order('z', 4), order('w')]);
      // stopped: nothing rests, nothing amended
      await repo.setStatus(row.id, 'stopped');
      expect(await repo.replaceOpenOrder(row.id, 'x', order('x', 5))).toBe(false);
      expect(await kept()).toEqual([]);
    });
  });
});

describe("a paper session's timeline on PostgreSQL", () => {
  it("keeps one row when two writers make the same change at once, yours or a limit's (the second waits, then sees it made)", async () => {
    await withRunningSession(async ({ h, repo, row, u }) => {
      // a position, for a limit's halt to close
      const l = newLedger(cfg);
      const fill = (signalId: string, action: 'buy' | 'sell', price: number) => {
        const out = planOrder(
          l,
          cfg,
          {},
          { action, sizing: 'all', amount: 0, price, ts: Date.UTC(2026, 0, 1) + price },
        );
        if (out.kind !== 'fill') throw new Error(out.kind);
        applyFill(l, out.fill, out.closedTrade);
        return {
          sessionId: row.id,
          userId: u.id,
          symbol: 'BTCUSD',
          signalId,
          action,
          source: 'test',
          status: 'filled' as const,
          fill: out.fill,
          ts: out.fill.ts,
          state: { ...l },
          fillSeq: l.fills,
          ledgerAfter: encodeLedger(l),
        };
      };
      await repo.executeMany([fill('b', 'buy', 100)]);
      const halt = { ...fill('halt', 'sell', 90), newStatus: 'paused' as const, failureReason: 'risk limit: x' };
      // each time the first writer's change is made and not committed yet; the second (another
      // connection of the pool) waits on it: your pause and a limit's at once, then two stops
      const writers: [first: (r: typeof repo) => Promise<unknown>, second: () => Promise<unknown>][] = [
        [(r) => r.setStatus(row.id, 'paused'), () => repo.executeMany([halt])],
        [(r) => r.setStatus(row.id, 'stopped'), () => repo.setStatus(row.id, 'stopped')],
      ];
      for (const [first, other] of writers) await whileHeld(h, first, other);
      // one row per change: the limit's close went through, its pause was already made
      expect((await repo.events(row.id)).map((e) => [e.was, e.status, e.reason])).toEqual([
        [null, 'created', null],
        ['created', 'running', null],
        ['running', 'paused', null],
        ['paused', 'stopped', null],
      ]);
      expect((await repo.orders(row.id, { status: 'filled' })).map((o) => o.signalId).sort()).toEqual(['b', 'halt']);
    });
  });
});
