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

describe("a paper session's timeline on PostgreSQL", () => {
  it("keeps one row when two writers make the same change at once, yours or a limit's (the second waits, then sees it made)", async () => {
    const s = uniqueName('tl');
    const h = await openDatabase({ backend: 'postgres', url: SERVICES.postgres }, { searchPath: s });
    try {
      const u = (await usersRepo(h.db).create(`race-${Date.now()}@x.io`, 'h'))!;
      const cfg = {
        startingBalance: 1000,
        feeRate: 0,
        feeFixed: 0,
        slippageBps: 0,
        allowShort: false,
        wholeUnits: false,
      };
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
      for (const [first, other] of writers) {
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
      // one row per change: the limit's close went through, its pause was already made
      expect((await repo.events(row.id)).map((e) => [e.was, e.status, e.reason])).toEqual([
        [null, 'created', null],
        ['created', 'running', null],
        ['running', 'paused', null],
        ['paused', 'stopped', null],
      ]);
      expect((await repo.orders(row.id, { status: 'filled' })).map((o) => o.signalId).sort()).toEqual(['b', 'halt']);
    } finally {
      await h.close();
      const c = new pg.Client(SERVICES.postgres);
      await c.connect();
      await c.query(`drop schema if exists "${s}" cascade`);
      await c.end();
    }
  });
});
