import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExchangeInput } from '@algotrade/services/http/exchange';
import { EXCHANGE_KEYS, parseLots, parsePortfolio, runBody, settingsText } from '../../web/run-settings.js';
import { startTestApp, type TestApp } from '../helpers/app.ts';

// the run forms' bodies, sent to the real API: it must take each of them and apply every setting
let t: TestApp;
let auth: { authorization: string };
let strategyId: string;
beforeAll(async () => {
  t = await startTestApp();
  auth = (await t.user()).auth;
  await t.importGoog(auth);
  strategyId = (
    await t.app.inject({ method: 'POST', url: '/api/strategies/templates/sma-crossover', headers: auth })
  ).json().id;
});
afterAll(async () => t.stop());

const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, headers: auth, payload });

describe("the run forms' settings (web/run-settings.js) against the API", () => {
  it('a paper session with every option set: stored as set', async () => {
    const body = runBody(
      {
        symbol: 'BTCUSD',
        balance: '25000',
        fee: '0.1',
        makerFeePct: '0.02',
        qtyStep: '0.001',
        minNotional: '5',
        borrowRatePct: '3',
        slippageBps: '5',
        allowShort: 'on',
        name: ' night shift ',
        evaluation: '5m',
        maxDrawdownPct: '10',
        maxPositionPct: '50',
        maxDailyLossPct: '',
      },
      'session',
    );
    const r = await post('/api/forward-tests', { strategyId, ...body, start: false });
    expect(r.statusCode, r.body).toBe(201);
    const s = r.json();
    expect(s.name).toBe('night shift');
    expect(s.config).toMatchObject({
      startingBalance: 25000,
      feeRate: 0.001,
      makerFeeRate: 0.0002,
      qtyStep: 0.001,
      minNotional: 5,
      borrowRatePct: 3,
      slippageBps: 5,
      allowShort: true,
      evaluation: { mode: 'candle', interval: '5m' },
      risk: { maxDrawdownPct: 10, maxPositionPct: 50 },
    });
    expect(s.config.risk).not.toHaveProperty('maxDailyLossPct');
    // as its page says them
    expect(settingsText(s.config)).toBe(
      'balance 25000 · fee 0.1 % · maker fee 0.02 % · slippage 5 bps · shorts allowed · quantity step 0.001 · min order value 5 · drawdown stop 10 % · max position 50 % of equity · short borrow 3 % a year',
    );
  });

  it("names the API's exchange settings, so a backtest's Paper trade it carries every one over", () => {
    expect([...EXCHANGE_KEYS].sort()).toEqual(Object.keys(ExchangeInput).sort());
  });

  it('a paper session with the options left empty: the API defaults apply', async () => {
    const body = runBody({ symbol: 'ETHUSD', balance: '1000', fee: '0', evaluation: 'tick' }, 'session');
    expect(body).toEqual({ symbol: 'ETHUSD', startingBalance: 1000, feeRate: 0 });
    const s = (await post('/api/forward-tests', { strategyId, ...body, start: false })).json();
    expect(s.config).toMatchObject({ evaluation: { mode: 'tick' }, allowShort: false, slippageBps: 0, risk: {} });
    // no maker's rate: a limit order pays the fee, as a taker's
    for (const k of ['makerFeeRate', 'qtyStep', 'minNotional', 'borrowRatePct']) expect(s.config).not.toHaveProperty(k);
  });

  it('a name typed in any run form: a backtest, a sweep and a session are called by it', async () => {
    const base = { symbol: 'GOOG', interval: '1d', balance: '10000', fee: '0', name: '  breakout v2  ' };
    const bt = await post('/api/backtests', { strategyId, ...runBody(base, 'backtest') });
    expect(bt.statusCode, bt.body).toBe(202);
    expect((await t.app.inject({ url: `/api/backtests/${bt.json().id}`, headers: auth })).json().name).toBe(
      'breakout v2',
    );
    const sw = await post('/api/backtests/sweep', {
      strategyId,
      ...runBody({ ...base, name: 'fast vs slow' }, 'sweep'),
      params: { 'fast.period': [5, 10] },
    });
    expect(sw.statusCode, sw.body).toBe(202);
    const sweeps = (await t.app.inject({ url: '/api/backtests/sweeps', headers: auth })).json();
    expect(sweeps.find((x: { sweepId: string }) => x.sweepId === sw.json().sweepId).name).toBe('fast vs slow');
    const s = await post('/api/forward-tests', {
      strategyId,
      ...runBody({ ...base, symbol: 'ETHUSD' }, 'session'),
      start: false,
    });
    expect(s.json().name).toBe('breakout v2');
    // left empty: no name
    expect(runBody({ ...base, name: ' ' }, 'backtest')).not.toHaveProperty('name');
  });

  it('a backtest over a date range: only those bars are traded', async () => {
    const body = runBody(
      {
        symbol: 'GOOG',
        interval: '1d',
        balance: '10000',
        fee: '0',
        from: '2010-01-01',
        to: '2011-12-31',
        allowShort: 'on',
      },
      'backtest',
    );
    const r = await post('/api/backtests', { strategyId, ...body });
    expect(r.statusCode, r.body).toBe(202);
    const id = r.json().id;
    let b: { status: string; parameters?: object } = { status: 'queued' };
    for (let i = 0; i < 200 && b.status !== 'done' && b.status !== 'failed'; i++) {
      await new Promise((res) => setTimeout(res, 50));
      b = (await t.app.inject({ url: `/api/backtests/${id}`, headers: auth })).json();
    }
    expect(b.status).toBe('done');
    // its page's settings line, from what it stored
    expect(settingsText(b.parameters!)).toBe('balance 10000 · fee 0 % · shorts allowed');
    const equity: { ts: string }[] = (await t.app.inject({ url: `/api/backtests/${id}/equity`, headers: auth })).json();
    expect(equity[0]!.ts >= '2010-01-01').toBe(true);
    expect(equity.at(-1)!.ts <= '2011-12-31T23:59:59Z').toBe(true);
    expect(equity.length).toBeGreaterThan(400); // two years of trading days
  });

  it("a backtest, sweep or portfolio with a paper session's risk limits: sent, stored and applied", async () => {
    const form = {
      symbol: 'GOOG',
      interval: '1d',
      balance: '10000',
      fee: '0.1',
      maxDrawdownPct: '10',
      maxDailyLossPct: '',
    };
    const body = runBody(form, 'backtest');
    expect(body.risk).toEqual({ maxDrawdownPct: 10 });
    const r = await post('/api/backtests', { strategyId, ...body });
    expect(r.statusCode, r.body).toBe(202);
    let b = { status: 'queued', parameters: {}, metrics: {} } as {
      status: string;
      parameters: { risk?: object };
      metrics: { limits?: { halts: { limit: string }[] } };
    };
    for (let i = 0; i < 200 && b.status !== 'done' && b.status !== 'failed'; i++) {
      await new Promise((res) => setTimeout(res, 50));
      b = (await t.app.inject({ url: `/api/backtests/${r.json().id}`, headers: auth })).json();
    }
    expect(b.parameters.risk).toEqual({ maxDrawdownPct: 10 });
    expect(b.metrics.limits!.halts.map((x) => x.limit)).toEqual(['max_drawdown']);
    for (const kind of ['sweep', 'portfolio'] as const)
      expect(runBody({ ...form, symbols: 'GOOG, BTCUSD' }, kind).risk).toEqual({ maxDrawdownPct: 10 });
    expect(runBody({ ...form, maxDrawdownPct: '' }, 'backtest')).not.toHaveProperty('risk');
    // resume the next day: sent with a daily loss limit, not without one
    expect(runBody({ ...form, maxDailyLossPct: '3', resumeNextDay: 'on' }, 'session').risk).toEqual({
      maxDrawdownPct: 10,
      maxDailyLossPct: 3,
      resumeNextDay: true,
    });
    expect(runBody({ ...form, resumeNextDay: 'on' }, 'backtest').risk).toEqual({ maxDrawdownPct: 10 });
  });

  it('a detail timeframe: sent for a backtest or a sweep, accepted; left out of a portfolio', async () => {
    const form = { symbol: 'GOOG', interval: '1d', balance: '10000', fee: '0', detailInterval: '1h' };
    const body = runBody(form, 'backtest');
    expect(body.detailInterval).toBe('1h');
    const r = await post('/api/backtests', { strategyId, ...body });
    expect(r.statusCode, r.body).toBe(202);
    const stored = (await t.app.inject({ url: `/api/backtests/${r.json().id}`, headers: auth })).json();
    expect(stored.parameters.detailInterval).toBe('1h');
    // none chosen: not sent; a portfolio: not sent (the API refuses it there)
    expect(runBody({ ...form, detailInterval: '' }, 'backtest')).not.toHaveProperty('detailInterval');
    expect(runBody({ ...form, symbols: 'GOOG, BTCUSD' }, 'portfolio')).not.toHaveProperty('detailInterval');
  });

  it('a leveraged backtest: stored as set, positions worth the leverage times the equity, liquidations named', async () => {
    const done = async (id: string) => {
      let b: { status: string } = { status: 'queued' };
      for (let i = 0; i < 200 && b.status !== 'done' && b.status !== 'failed'; i++) {
        await new Promise((res) => setTimeout(res, 50));
        b = (await t.app.inject({ url: `/api/backtests/${id}`, headers: auth })).json();
      }
      expect(b.status).toBe('done');
      return (await t.app.inject({ url: `/api/backtests/${id}/trades`, headers: auth })).json() as {
        size: number;
        entryPrice: number;
        exitReason: string;
      }[];
    };
    const form = { symbol: 'GOOG', interval: '1d', balance: '10000', fee: '0', allowShort: 'on' };
    const spot = await done((await post('/api/backtests', { strategyId, ...runBody(form, 'backtest') })).json().id);
    const body = runBody({ ...form, leverage: '20', maintenanceMarginPct: '1', fundingRatePct: '0.01' }, 'backtest');
    expect(body).toMatchObject({ leverage: 20, maintenanceMarginPct: 1, fundingRatePct: 0.01 });
    const r = await post('/api/backtests', { strategyId, ...body });
    expect(r.statusCode, r.body).toBe(202);
    const row = (await t.app.inject({ url: `/api/backtests/${r.json().id}`, headers: auth })).json();
    expect(row.parameters).toMatchObject({ leverage: 20, maintenanceMarginPct: 1, fundingRatePct: 0.01 });
    const lev = await done(r.json().id);
    // the first entry (same bar, same equity): twenty times the shares, to the whole share
    expect(Math.abs(lev[0]!.size)).toBeGreaterThanOrEqual(20 * Math.abs(spot[0]!.size) - 20);
    expect(Math.abs(lev[0]!.size)).toBeLessThanOrEqual(20 * Math.abs(spot[0]!.size) + 20);
    // funding paid by the trades, through the API: each has it, in its PnL
    expect(lev.every((x) => typeof (x as { funding?: number }).funding === 'number')).toBe(true);
    // at 20x a 4 % move against a position liquidates it: GOOG's daily bars have such moves
    expect(lev.some((x) => x.exitReason === 'liquidation')).toBe(true);
    expect(spot.some((x) => x.exitReason === 'liquidation')).toBe(false);
    // 1x is the spot account: nothing stored; settings that liquidate at once are a 400 naming them
    expect(runBody({ ...form, leverage: '1', fundingRatePct: '0' }, 'backtest')).toEqual(runBody(form, 'backtest'));
    const bad = await post('/api/backtests', {
      strategyId,
      ...runBody({ ...form, leverage: '40', maintenanceMarginPct: '3' }, 'backtest'),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/initial margin of 2\.5 % at 40x/);
  });

  it('a sweep with a date range and no options: accepted', async () => {
    const body = runBody(
      { symbol: 'GOOG', interval: '1d', balance: '10000', fee: '0.1', from: '2012-01-01', to: '' },
      'sweep',
    );
    expect(body).toEqual({
      symbol: 'GOOG',
      interval: '1d',
      startingBalance: 10000,
      feeRate: 0.001,
      from: '2012-01-01',
    });
    const r = await post('/api/backtests/sweep', { strategyId, ...body, params: { 'fast.period': [5, 10] } });
    expect(r.statusCode, r.body).toBe(202);
    expect(r.json().jobs).toBe(2);
  });

  it('a walk-forward with its folds, share, anchoring and pick: stored as set', async () => {
    const body = runBody(
      {
        symbol: 'GOOG',
        interval: '1d',
        balance: '10000',
        fee: '0',
        folds: '3',
        outOfSamplePct: '30',
        anchored: 'on',
        pick: 'robust',
      },
      'walk-forward',
    );
    expect(body).toMatchObject({ folds: 3, outOfSamplePct: 30, anchored: true, pick: 'robust' });
    const r = await post('/api/backtests/walk-forward', { strategyId, ...body, params: { 'fast.period': [5, 10] } });
    expect(r.statusCode, r.body).toBe(202);
    const row = (await t.app.inject({ url: `/api/backtests/${r.json().id}`, headers: auth })).json();
    expect(row.parameters.walkForward).toMatchObject({ folds: 3, outOfSamplePct: 30, anchored: true, pick: 'robust' });
    // the default pick, the best, is not sent
    expect(runBody({ symbol: 'GOOG', pick: 'best' }, 'walk-forward').pick).toBeUndefined();
  });

  it('a portfolio with weights typed as GOOG:3 goog2:1: accepted, normalised and stored', async () => {
    await t.importGoog(auth, 'GOOG2');
    const body = runBody(
      { symbol: 'GOOG', symbols: 'GOOG:3 goog2:1', interval: '1d', balance: '10000', fee: '0' },
      'portfolio',
    );
    expect(body).toEqual({
      symbols: ['GOOG', 'GOOG2'],
      weights: [3, 1],
      interval: '1d',
      startingBalance: 10000,
      feeRate: 0,
    });
    const r = await post('/api/backtests/portfolio', { strategyId, ...body });
    expect(r.statusCode, r.body).toBe(202);
    const row = (await t.app.inject({ url: `/api/backtests/${r.json().id}`, headers: auth })).json();
    expect(row).toMatchObject({ kind: 'portfolio', parameters: { portfolio: { weights: [0.75, 0.25] } } });
    expect(() => runBody({ symbols: 'GOOG', interval: '1d', balance: '1', fee: '0' }, 'portfolio')).toThrow(
      /two symbols/,
    );
  });

  it("a portfolio's symbols with lot sizes and minimums of their own: sent as symbolRules, stored, said in its line", async () => {
    await t.importGoog(auth, 'GOOG4');
    const f = { symbols: 'GOOG, goog4', interval: '1d', balance: '10000', fee: '0' };
    const body = runBody({ ...f, qtyStep: '5; goog4=0.25', minNotional: 'GOOG4 = 100' }, 'portfolio');
    expect(body).toMatchObject({ qtyStep: 5, symbolRules: { GOOG4: { qtyStep: 0.25, minNotional: 100 } } });
    expect(body).not.toHaveProperty('minNotional');
    const r = await post('/api/backtests/portfolio', { strategyId, ...body });
    expect(r.statusCode, r.body).toBe(202);
    const row = (await t.app.inject({ url: `/api/backtests/${r.json().id}`, headers: auth })).json();
    expect(row.parameters.portfolio.rules).toEqual({ GOOG4: { qtyStep: 0.25, minNotional: 100 } });
    expect(settingsText(row.parameters)).toBe(
      'balance 10000 · fee 0 % · quantity step 5 · GOOG4: quantity step 0.25, min order value 100',
    );
    // a sweep over the portfolio takes them too; a symbol's own for one symbol, or a word, is said so
    expect(runBody({ ...f, qtyStep: 'GOOG4=1' }, 'sweep')).toMatchObject({ symbolRules: { GOOG4: { qtyStep: 1 } } });
    expect(() => runBody({ ...f, symbol: 'GOOG', qtyStep: 'GOOG=1' }, 'backtest')).toThrow(/is for a portfolio/);
    expect(() => runBody({ symbol: 'GOOG', balance: '1', minNotional: 'GOOG=5' }, 'session')).toThrow(
      /is for a portfolio/,
    );
    expect(() => runBody({ ...f, qtyStep: 'GOOG4=lots' }, 'portfolio')).toThrow(
      'quantity step: "GOOG4=lots" is not a number',
    );
    expect(parseLots('0.01, BTCUSD=0.001', 'x')).toEqual({ value: 0.01, bySymbol: { BTCUSD: 0.001 } });
    expect(parseLots('B<D=1', 'x')).toEqual({ error: 'x: "B<D" is not a symbol' });
  });

  it("a portfolio's limits on its summed equity: sent as portfolioRisk, stored, said in its line; refused without symbols", async () => {
    const f = { symbols: 'GOOG, GOOG4', interval: '1d', balance: '10000', fee: '0' };
    const body = runBody(
      { ...f, portfolioDrawdownPct: '12', portfolioDailyLossPct: '3', resumeNextDay: 'on' },
      'portfolio',
    );
    expect(body.portfolioRisk).toEqual({ maxDrawdownPct: 12, maxDailyLossPct: 3, resumeNextDay: true });
    const r = await post('/api/backtests/portfolio', { strategyId, ...body });
    expect(r.statusCode, r.body).toBe(202);
    const row = (await t.app.inject({ url: `/api/backtests/${r.json().id}`, headers: auth })).json();
    expect(row.parameters.portfolio.risk).toEqual(body.portfolioRisk);
    expect(settingsText(row.parameters)).toBe(
      'balance 10000 · fee 0 % · portfolio drawdown stop 12 % · portfolio daily loss 3 % (resumes the next day)',
    );
    // the day's resume is the daily loss's: alone with a drawdown stop it is not sent
    expect(runBody({ ...f, portfolioDrawdownPct: '12', resumeNextDay: 'on' }, 'sweep').portfolioRisk).toEqual({
      maxDrawdownPct: 12,
    });
    expect(() => runBody({ ...f, symbol: 'GOOG', portfolioDrawdownPct: '12' }, 'backtest')).toThrow(
      /a portfolio's: give its symbols/,
    );
  });

  it('a sweep or walk-forward given portfolio symbols: each backtest a portfolio backtest; without them, on the one symbol', async () => {
    await t.importGoog(auth, 'GOOG3');
    const f = { symbol: 'GOOG', interval: '1d', balance: '10000', fee: '0', detailInterval: '1h' };
    const body = runBody({ ...f, symbols: 'GOOG, goog3' }, 'sweep');
    expect(body).toEqual({ symbols: ['GOOG', 'GOOG3'], interval: '1d', startingBalance: 10000, feeRate: 0 });
    const r = await post('/api/backtests/sweep', { strategyId, ...body, params: { 'fast.period': [5, 10] } });
    expect(r.statusCode, r.body).toBe(202);
    const s = (await t.app.inject({ url: `/api/backtests/sweeps/${r.json().sweepId}`, headers: auth })).json();
    expect(s.portfolio).toEqual({ symbols: ['GOOG', 'GOOG3'], weights: [0.5, 0.5] });
    const row = (await t.app.inject({ url: `/api/backtests/${r.json().ids[0]}`, headers: auth })).json();
    expect(row).toMatchObject({ kind: 'portfolio', symbol: 'GOOG,GOOG3' });
    // left empty: a sweep on the form's symbol, with its detail timeframe
    expect(runBody({ ...f, symbols: ' ' }, 'sweep')).toMatchObject({ symbol: 'GOOG', detailInterval: '1h' });
    expect(() => runBody({ ...f, symbols: 'GOOG' }, 'sweep')).toThrow(/two symbols/);
    // a walk-forward likewise: each window's backtests portfolio backtests
    const wfBody = runBody({ ...f, symbols: 'GOOG:3, goog3:1', folds: '3' }, 'walk-forward');
    expect(wfBody).toEqual({
      symbols: ['GOOG', 'GOOG3'],
      weights: [3, 1],
      interval: '1d',
      startingBalance: 10000,
      feeRate: 0,
      folds: 3,
    });
    const w = await post('/api/backtests/walk-forward', { strategyId, ...wfBody, params: { 'fast.period': [5, 10] } });
    expect(w.statusCode, w.body).toBe(202);
    expect(w.json()).toMatchObject({ symbols: ['GOOG', 'GOOG3'], weights: [0.75, 0.25] });
    expect(runBody({ ...f, symbols: '' }, 'walk-forward')).toMatchObject({ symbol: 'GOOG', detailInterval: '1h' });
  });
});

describe('a portfolio typed in the form (parsePortfolio)', () => {
  it('reads symbols with or without weights, and says what is wrong', () => {
    expect(parsePortfolio('goog, BTCUSD')).toEqual({ symbols: ['GOOG', 'BTCUSD'] });
    expect(parsePortfolio(' GOOG:2 ; ETH-USD:0.5 ')).toEqual({ symbols: ['GOOG', 'ETH-USD'], weights: [2, 0.5] });
    expect(parsePortfolio('GOOG')).toEqual({ error: expect.stringMatching(/at least two/) });
    expect(parsePortfolio('GOOG, goog')).toEqual({ error: 'GOOG is there twice' });
    expect(parsePortfolio('GOOG:1, BTCUSD')).toEqual({ error: expect.stringMatching(/every symbol a weight/) });
    expect(parsePortfolio('GOOG:0, BTCUSD:1')).toEqual({ error: expect.stringMatching(/positive/) });
    expect(parsePortfolio('GOOG:x, BTCUSD:1')).toEqual({ error: expect.stringMatching(/positive/) });
    expect(parsePortfolio('GO<OG, BTCUSD')).toEqual({ error: expect.stringMatching(/not a symbol/) });
    expect(parsePortfolio(Array.from({ length: 21 }, (_, i) => `S${i}`).join(','))).toEqual({
      error: expect.stringMatching(/at most 20/),
    });
  });
});
