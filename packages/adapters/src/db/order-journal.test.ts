import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { newLedger, type PaperConfig } from '@algotrade/core';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test/helpers/env.ts';
import { runningSession } from '../../../../test/helpers/sessions.ts';
import { openDatabase, type DbHandle } from './connect.ts';
import { encodeLedger, forwardTestsRepo, type Execution, type SessionRow } from './repos/forward-tests.repo.ts';
import { usersRepo } from './repos/users.repo.ts';

const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

/** A database in a new directory with a user and a running session. */
async function setUp(dir = tempDir()) {
  dirs.push(dir);
  const h = await openDatabase({ backend: 'pglite', dir: dir.dir });
  const user = (await usersRepo(h.db).create(`j${Math.random()}@test.io`, 'x'))!;
  const repo = forwardTestsRepo(h.db, { withConnection: h.withConnection });
  const session = await runningSession(h.db, user.id, 'JRNUSD', 10_000);
  return { h, dir: dir.dir, user, repo, session };
}

/** `n` buy fills numbered from `from`, as the engine hands them to executeMany */
function fills(session: SessionRow, from: number, n: number): Execution[] {
  const s = { sessionId: session.id, userId: session.userId };
  return Array.from({ length: n }, (_, i) => {
    const seq = from + i;
    const l = {
      ...newLedger(session.config as unknown as PaperConfig),
      fills: seq,
      qty: seq,
      cash: 10_000 - 100 * seq,
    };
    return {
      ...s,
      symbol: 'JRNUSD',
      signalId: `sig-${seq}`,
      action: 'buy',
      source: 'test',
      status: 'filled',
      ts: Date.UTC(2026, 0, 1, 0, seq),
      state: l,
      latencyMs: 1.5,
      fill: {
        side: 'buy',
        quantity: 1,
        price: 100,
        fee: 0.1,
        slippage: 0,
        realizedPnl: 0,
        ts: Date.UTC(2026, 0, 1, 0, seq),
      },
      fillSeq: seq,
      ledgerAfter: encodeLedger(l),
    } as Execution;
  });
}

const rowsIn = async (h: DbHandle, sessionId: string) =>
  Number(
    (
      await sql<{ n: string }>`select count(*) as n from session_orders where session_id = ${sessionId}::uuid`.execute(
        h.db,
      )
    ).rows[0]!.n,
  );
const never = () => new Promise<void>(() => {});

describe('order journal (embedded database)', () => {
  it('takes a batch at once, copies it into the order log behind, and every read sees it', async () => {
    const { h, repo, session } = await setUp();
    const j = h.orderJournal!;
    const writer = {};
    j.claim(writer, never); // no quiet moment: nothing is copied until a read asks for it
    await repo.executeMany(fills(session, 1, 600), { writer });
    expect(j.pendingRows).toBe(600);
    expect(statSync(j.file).size).toBeGreaterThan(600 * 100);
    expect(await rowsIn(h, session.id)).toBe(0); // a raw query does not wait: the rows are still in the file
    // a read through the repository waits for them: 600 rows in three chunks, in fill order
    const trades = await repo.trades(session.id, { limit: 1000 });
    expect(trades).toHaveLength(600);
    expect(trades.map((t) => t.signalId).slice(0, 3)).toEqual(['sig-1', 'sig-2', 'sig-3']);
    expect(j.pendingRows).toBe(0);
    expect(statSync(j.file).size).toBe(0);
    // the session's ledger is the last fill's
    expect((await repo.get(session.id))!.state).toMatchObject({ fills: 600, qty: 600 });
    await h.close();
  });

  it("copies at its writer's quiet moments without being asked", async () => {
    const { h, repo, session } = await setUp();
    const writer = {};
    let quiet!: () => void;
    h.orderJournal!.claim(writer, () => new Promise<void>((r) => (quiet = r)));
    await repo.executeMany(fills(session, 1, 10), { writer });
    await new Promise((r) => setTimeout(r, 50));
    expect(await rowsIn(h, session.id)).toBe(0);
    quiet();
    for (let i = 0; i < 100 && (await rowsIn(h, session.id)) < 10; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await rowsIn(h, session.id)).toBe(10);
    await h.close();
  });

  it('is for a sole writer: with a second one, batches go to the order log directly, and a clash shows', async () => {
    const { h, repo, session } = await setUp();
    const a = {};
    const b = {};
    h.orderJournal!.claim(a, never);
    await repo.executeMany(fills(session, 1, 2), { writer: a });
    expect(h.orderJournal!.pendingRows).toBe(2);
    h.orderJournal!.claim(b, never);
    expect(h.orderJournal!.sole(a)).toBe(false);
    // b writes directly, after the journal is copied in: its fill number 2 meets a's
    await expect(repo.executeMany(fills(session, 2, 1), { writer: b })).rejects.toThrow(/stale ledgers/);
    await repo.executeMany(fills(session, 3, 1), { writer: b });
    expect(h.orderJournal!.pendingRows).toBe(0);
    expect(await rowsIn(h, session.id)).toBe(3);
    h.orderJournal!.release(b);
    expect(h.orderJournal!.sole(a)).toBe(true);
    await h.close();
  });

  it('after a crash, copies in every complete record once and drops a torn last one', async () => {
    const { h, dir, repo, session } = await setUp();
    const j = h.orderJournal!;
    const writer = {};
    j.claim(writer, never);
    await repo.executeMany(fills(session, 1, 300), { writer });
    const first = readFileSync(j.file); // a record that was copied in before the crash
    await j.drained();
    await repo.executeMany(fills(session, 301, 5), { writer });
    const second = readFileSync(j.file); // one that was not
    await repo.executeMany(fills(session, 306, 5), { writer });
    const torn = readFileSync(j.file).subarray(second.length, second.length + 200); // a write cut short
    // the process dies: the database closes without the journal being copied in
    await h.checkpointer?.stop();
    await h.db.destroy();
    writeFileSync(j.file, Buffer.concat([first, second, torn]));

    const h2 = await openDatabase({ backend: 'pglite', dir });
    const repo2 = forwardTestsRepo(h2.db);
    const trades = await repo2.trades(session.id, { limit: 1000 });
    expect(trades.map((t) => t.signalId)).toEqual(Array.from({ length: 305 }, (_, i) => `sig-${i + 1}`));
    expect((await repo2.get(session.id))!.state).toMatchObject({ fills: 305 });
    expect(statSync(h2.orderJournal!.file).size).toBe(0);
    await h2.close();
  });

  it('a session deleted with fills still in the journal takes its orders with it; others keep theirs', async () => {
    const { h, repo, session } = await setUp();
    const other = await runningSession(h.db, session.userId, 'JRNUSD', 10_000);
    const writer = {};
    h.orderJournal!.claim(writer, never);
    await repo.executeMany([...fills(session, 1, 3), ...fills(other, 1, 2)], { writer });
    expect(await repo.delete(session.id, session.userId)).toBe(true);
    expect(h.orderJournal!.pendingRows).toBe(0);
    expect(await rowsIn(h, session.id)).toBe(0);
    expect(await repo.trades(other.id)).toHaveLength(2);
    await h.close();
  });

  it('can be switched off (FT_ORDER_JOURNAL=off): batches go to the order log directly', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const h = await openDatabase({ backend: 'pglite', dir: dir.dir, orderJournal: false });
    expect(h.orderJournal).toBeUndefined();
    await h.close();
  });
});
