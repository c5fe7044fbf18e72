// @vitest-environment happy-dom
/**
 * The browser app as a user meets it: the platform runs as `npm start` does (its own process, the
 * simulated feed on), the page is the one the gateway serves, loaded into happy-dom (a DOM without a
 * screen) at the server's origin, and every step is a click or a typed value. Each step's result is
 * checked on the page, and where it is stored, through the API too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { coinbaseRest, GARBAGE_TS, real, served } from '../helpers/coinbase-rest.ts';
import { tempDir } from '../helpers/env.ts';
import { backtestingPy } from '../helpers/goog.ts';
import { gatedBy } from '../helpers/graphs.ts';
import http from 'node:http';
import { startPlatform, type PlatformProcess } from '../helpers/platform.ts';
import { fmt } from '../../web/chart.js';
import { legsCell } from '@algotrade/strategy';

const tmp = tempDir();
const port = 19_500 + Math.floor(Math.random() * 400);
const base = `http://127.0.0.1:${port}`;
let platform: PlatformProcess;
let exchange: ReturnType<typeof coinbaseRest>;
const pageErrors: string[] = [];

const $ = <T extends Element = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const $$ = <T extends Element = HTMLElement>(sel: string) => [...document.querySelectorAll<T>(sel)];
const text = (sel: string) => $(sel)?.textContent ?? '';
/** The editor's sweep form for the first strategy, opened afresh, its grid typed, on GOOG's daily bars. */
async function sweepForm(grid: string): Promise<HTMLFormElement> {
  const sid = (await api('/api/strategies'))[0].id;
  location.hash = '#/strategies';
  location.hash = `#/strategies/${sid}`;
  const form = await until(
    () => $$<HTMLFormElement>('.run-forms form').find((f) => f.textContent?.includes('Run sweep')),
    'the editor',
  );
  type(form.querySelector<HTMLInputElement>('input[name=grid]'), grid);
  type(form.querySelector<HTMLSelectElement>('select[name=symbol]'), 'GOOG');
  type(form.querySelector<HTMLSelectElement>('select[name=interval]'), '1d');
  return form;
}
const button = (label: string) => $$<HTMLButtonElement>('button').find((b) => b.textContent?.trim() === label);

/** Polls until `fn` gives a truthy value (the page works asynchronously, as in a browser). */
async function until<T>(fn: () => T | Promise<T>, what: string, ms = 20_000): Promise<NonNullable<T>> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() - t0 > ms)
      throw new Error(`timed out waiting for ${what}; page: ${$('main')?.textContent?.slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function type(el: HTMLInputElement | HTMLSelectElement | null | undefined, value: string) {
  if (!el) throw new Error('no such field');
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
}

/**
 * The files the page saves while `act` runs, with their names and text. happy-dom follows a download
 * link instead of saving it, so the links' clicks are recorded here instead.
 */
async function downloads(act: () => void): Promise<{ name: string; text: string }[]> {
  const blobs: Blob[] = [];
  const names: string[] = [];
  const create = URL.createObjectURL;
  const click = HTMLAnchorElement.prototype.click;
  URL.createObjectURL = (b: Blob) => (blobs.push(b), `blob:${blobs.length}`);
  HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
    names.push(this.download);
  };
  try {
    act();
    await until(() => names.length > 0, 'a download');
  } finally {
    URL.createObjectURL = create;
    HTMLAnchorElement.prototype.click = click;
  }
  return Promise.all(names.map(async (name, i) => ({ name, text: await blobs[i]!.text() })));
}

/** The API as the page's user, for checking what the page stored. */
async function api(path: string, init: RequestInit = {}) {
  const s = JSON.parse(localStorage.getItem('algotrade.session') ?? 'null');
  const r = await fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${s.accessToken}`, ...(init.headers ?? {}) },
  });
  return r.json();
}

beforeAll(async () => {
  // an exchange's REST API, replayed on a local socket (no network here): the platform sends its
  // history downloads there, as an operator's EXCHANGE_API_URL proxy would
  exchange = coinbaseRest();
  await new Promise<void>((r) => exchange.server.listen(0, '127.0.0.1', r));
  platform = startPlatform(port, tmp.dir, {
    MARKET_FEED: 'simulator',
    SIM_TICKS_PER_SECOND: '20',
    EXCHANGE_API_URL: `http://127.0.0.1:${(exchange.server.address() as AddressInfo).port}`,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', // the webhook receiver below is on this machine
  });
  // the page's origin is the server's, as when a browser opens it (happy-dom's own API)
  (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${base}/app/#/login`);
  // node:http, not the DOM's fetch (which logs every refused connection while the server starts)
  await until(
    () =>
      new Promise<boolean>((resolve) =>
        http
          .get(`${base}/health`, (r) => (r.resume(), resolve(r.statusCode === 200)))
          .on('error', () => resolve(false)),
      ),
    'the platform to answer /health',
    30_000,
  );
  const html = await (await fetch(`${base}/app/`)).text();
  document.body.innerHTML = html.slice(html.indexOf('<body>') + 6, html.indexOf('</body>'));
  window.addEventListener('error', (e) => pageErrors.push(String((e as ErrorEvent).error ?? e)));
  window.addEventListener('unhandledrejection', (e) => pageErrors.push(String((e as PromiseRejectionEvent).reason)));
  await import('../../web/app.js');
}, 60_000);

afterAll(async () => {
  platform?.proc.kill('SIGTERM');
  await platform?.exited;
  exchange?.server.close();
  tmp.remove();
});

describe('the browser app, clicked through against the running platform', () => {
  it('creates an account and shows live prices', async () => {
    await until(() => $('#login-form'), 'the sign-in form');
    expect($('#nav')?.hidden).toBe(true);
    type($<HTMLInputElement>('input[name=email]'), 'short');
    type($<HTMLInputElement>('input[name=password]'), 'pw');
    button('Create account')!.click();
    await until(() => text('.error-line'), 'the refusal');
    expect(text('.error-line')).toMatch(/email|password/i);

    type($<HTMLInputElement>('input[name=email]'), 'trader@example.com');
    type($<HTMLInputElement>('input[name=password]'), 'correct horse');
    button('Create account')!.click();
    await until(() => location.hash === '#/' && $$('main table tbody tr').length >= 5, 'the markets table');
    expect($('#nav')?.hidden).toBe(false);
    expect(text('#who')).toContain('trader@example.com');
    const btc = () => $$('main tbody tr').find((r) => r.textContent?.startsWith('BTCUSD'));
    const priceOf = () => btc()?.querySelector('.price')?.textContent ?? '–';
    const first = await until(() => (priceOf() !== '–' ? priceOf() : null), 'a BTCUSD price');
    await until(() => $('#live-state')?.classList.contains('live-open'), 'the live socket');
    await until(() => priceOf() !== first, 'the price to move with the feed');
  });

  it("opens a symbol's live chart, and sets an alert that pops up when it fires", async () => {
    $$<HTMLAnchorElement>('main tbody a')
      .find((a) => a.textContent === 'BTCUSD')!
      .click();
    await until(
      () => location.hash === '#/markets/BTCUSD' && text('main .chart-title').startsWith('BTCUSD: last'),
      'the chart',
    );
    const ticks = () => Number(/last (\d+) ticks/.exec(text('main .chart-title'))?.[1]);
    const before = ticks();
    await until(() => ticks() > before, 'the chart to take live ticks');
    // and the stored 1m candles' closes: none yet in the platform's first minute (a chart saying so)
    const candles = await until(
      () => $$('main .chart-title').find((t) => /^1m closes \(\d+\)$/.test(t.textContent ?? ''))?.textContent,
      'the candle chart',
    );
    const stored = Number(/\((\d+)\)/.exec(candles)![1]);
    expect($$('main .chart-box svg path').length).toBe(stored > 0 ? 2 : 1); // ticks, candles
    // the shown interval's candles as a file: the API's, as CSV
    const [file] = await downloads(() => button('CSV')!.click());
    expect(file!.name).toBe('BTCUSD-1m.csv');
    expect(file!.text.split('\r\n')[0]).toBe('ts,open,high,low,close,volume');

    location.hash = '#/alerts';
    const form = await until(() => $<HTMLFormElement>('main form.inline'), 'the alert form');
    // first a webhook for alerts, to a receiver on a real local socket
    const received: { event: string; body: string }[] = [];
    const rx = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => (received.push({ event: String(req.headers['x-algotrade-event']), body }), res.end()));
    });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
    const hookForm = $$<HTMLFormElement>('main form.inline').find((f) => f.textContent?.includes('Add webhook'))!;
    type(
      hookForm.querySelector<HTMLInputElement>('input[name=url]'),
      `http://127.0.0.1:${(rx.address() as AddressInfo).port}/in`,
    );
    expect(hookForm.querySelector<HTMLInputElement>('input[value=alert]')!.checked).toBe(true);
    // it offers every event the API takes, in its order (its OpenAPI document)
    const doc = await (await fetch(`${base}/docs/json`)).json();
    const hookEvents =
      doc.paths['/api/webhooks/'].post.requestBody.content['application/json'].schema.properties.events;
    expect([...hookForm.querySelectorAll<HTMLInputElement>('input[type=checkbox]')].map((i) => i.value)).toEqual(
      hookEvents.items.enum,
    );
    hookForm.requestSubmit();
    const secret = await until(() => $('.webhooks .secret code')?.textContent, 'the secret, shown once');
    expect(secret).toMatch(/^whsec_/);
    expect(text('.webhooks tbody tr')).toContain('/in');
    type(form.querySelector<HTMLSelectElement>('select[name=kind]'), 'price_above');
    type(form.querySelector<HTMLInputElement>('input[name=symbol]'), 'btcusd');
    type(form.querySelector<HTMLInputElement>('input[name=value]'), '1'); // below the price: fires on the next tick
    form.requestSubmit();
    await until(() => $$('.toast').find((t) => t.textContent?.startsWith('Alert: ')), 'the alert to pop up');
    const [alert] = await api('/api/alerts');
    expect(alert).toMatchObject({ kind: 'price_above', symbol: 'BTCUSD', status: 'triggered' });
    // the webhook got it too; a test send arrives, and the page's log shows both delivered
    await until(() => received.find((r) => r.event === 'alert'), 'the alert at the webhook');
    expect(JSON.parse(received.find((r) => r.event === 'alert')!.body).data.alertId).toBe(alert.id);
    // the page afresh (the alert form's own re-render may still be on its way): its last delivery shown
    location.hash = '#/';
    await until(() => text('main h1') === 'Markets', 'the markets page');
    location.hash = '#/alerts';
    const send = await until(
      () =>
        (text('.webhooks tbody tr').includes('delivered (200)') &&
          $$<HTMLButtonElement>('.webhooks button').find((b) => b.textContent === 'Send a test')) ||
        undefined,
      'the webhook list',
    );
    send.click();
    await until(() => received.find((r) => r.event === 'ping'), 'the test at the webhook');
    await until(
      () => $$('.webhooks h3 + table tbody tr').filter((r) => r.textContent?.includes('delivered (200)')).length === 2,
      'two deliveries in the log',
    );
    rx.close();
    // an alert that repeats, at most every 30 s: listed with its level, how it repeats and how often it fired
    const again = await until(
      () => $$<HTMLFormElement>('main form.inline').find((f) => f.querySelector('select[name=repeat]')),
      'the alert form',
    );
    type(again.querySelector<HTMLSelectElement>('select[name=kind]'), 'price_below');
    type(again.querySelector<HTMLInputElement>('input[name=symbol]'), 'ethusd');
    type(again.querySelector<HTMLInputElement>('input[name=value]'), '2');
    type(again.querySelector<HTMLSelectElement>('select[name=repeat]'), 'every');
    type(again.querySelector<HTMLInputElement>('input[name=cooldown]'), '30');
    again.requestSubmit();
    const row = await until(() => $$('main tbody tr').find((r) => r.textContent?.includes('ETHUSD')), 'it in the list');
    const made = (await api('/api/alerts')).find((x: { symbol: string }) => x.symbol === 'ETHUSD');
    expect(made).toMatchObject({ kind: 'price_below', params: { price: 2, repeat: 'every', cooldownSeconds: 30 } });
    expect([...row.querySelectorAll('td')].map((td) => td.textContent).slice(0, 7)).toEqual([
      'price_below',
      'ETHUSD',
      '2',
      '', // a price alert holds no position
      'every time, 30 s apart',
      'active',
      '0',
    ]);
  });

  it("downloads an exchange's candle history, following its progress", async () => {
    location.hash = '#/';
    const form = await until(() => $<HTMLFormElement>('#download-form'), 'the download form');
    const since = new Date(real[0]![0]!).toISOString();
    const end = new Date(real[real.length - 1]![0]! + 60_000).toISOString();
    type(form.querySelector<HTMLInputElement>('input[name=market]'), 'BTC/USD');
    type(form.querySelector<HTMLInputElement>('input[name=symbol]'), 'cbbtc');
    type(form.querySelector<HTMLInputElement>('input[name=since]'), since);
    type(form.querySelector<HTMLInputElement>('input[name=until]'), end);
    form.requestSubmit();
    const stored = served.filter((c) => c[0] !== GARBAGE_TS).length;
    const row = await until(
      () => $$('#download-form ~ div tbody tr').find((r) => r.textContent?.includes('done')),
      'the download to finish',
      60_000,
    );
    const cells = [...row.querySelectorAll('td')].map((td) => td.textContent);
    expect(cells).toEqual(['coinbaseexchange', 'BTC/USD → CBBTC', '1m', 'done', String(stored), '1', '']);
    const candles = await api(`/api/market/symbols/CBBTC/candles?interval=1m&from=${since}&to=${end}&limit=5000`);
    expect(candles.length).toBe(stored);
  });

  it('starts a strategy from a template and draws on it: wrong wires refused, a node added, wired and set, saved', async () => {
    // history for the backtest below, imported from a CSV file on the markets page
    location.hash = '#/';
    const form = await until(() => $<HTMLFormElement>('#import-form'), 'the import form');
    type(form.querySelector<HTMLInputElement>('input[name=symbol]'), 'goog');
    type(form.querySelector<HTMLSelectElement>('select[name=interval]'), '1d');
    const file = new File([backtestingPy('GOOG.csv')], 'GOOG.csv', { type: 'text/csv' });
    Object.defineProperty(form.querySelector('input[type=file]'), 'files', { value: [file] }); // as a file picker sets it
    form.requestSubmit();
    await until(() => text('.import-report p'), 'the import report', 30_000);
    expect(text('.import-report p')).toBe('GOOG 1d: 2148 candles imported, 0 rows skipped.');
    expect((await api('/api/market/symbols/GOOG/candles?interval=1d&limit=5000')).length).toBe(2148);

    location.hash = '#/strategies';
    const use = await until(() => {
      const card = $$('.card').find((c) => /SMA crossover/i.test(c.querySelector('h3')?.textContent ?? ''));
      return card?.querySelector('button');
    }, 'the template cards');
    use.click();
    await until(() => /^#\/strategies\/[0-9a-f-]{36}$/.test(location.hash) && $$('.node').length === 7, 'the editor');
    const id = location.hash.split('/')[2]!;
    expect($$('.wires path.wire')).toHaveLength(8);

    // a number into a boolean input is refused where it is drawn
    $('.node[data-node="fast"] .port.out')!.click();
    $('.node[data-node="buy"] .port.in')!.click();
    expect(text('.status-line')).toBe('not connected: fast.value is a number; buy.trigger takes a boolean');
    expect($$('.wires path.wire')).toHaveLength(8);

    // the palette's search keeps the matching types (in place: the box keeps its focus)
    const search = $<HTMLInputElement>('input.palette-search')!;
    const visible = () => $$('button.chip').filter((b) => !b.hidden && !b.closest('details[hidden]'));
    search.focus();
    type(search, 'exponential');
    expect(visible().map((b) => b.textContent)).toEqual(['EMA', 'DEMA', 'TEMA']);
    expect(document.activeElement).toBe(search);
    type(search, 'no such indicator');
    expect(visible()).toHaveLength(0);
    expect($('.palette-none')!.hidden).toBe(false);
    type(search, 'exponential');
    // an EMA from the palette, its period typed (a bad one first), wired from the close
    visible()
      .find((b) => b.textContent === 'EMA')!
      .click();
    await until(() => $$('.node').length === 8, 'the new node');
    const period = $<HTMLInputElement>('.inspector input[type=number]')!;
    type(period, '0');
    expect(text('.inspector small.bad')).toBe('must be at least 1');
    type(period, '12');
    expect(text('.node[data-node="ema1"] .node-params')).toBe('period 12');
    // moved with the keyboard: two steps right, one fine step down
    const pos = () => {
      const el = $('.node[data-node="ema1"]')!;
      return { x: parseInt(el.style.left, 10), y: parseInt(el.style.top, 10) };
    };
    const at = pos();
    const key = (k: string, shiftKey = false) =>
      document.body.dispatchEvent(new KeyboardEvent('keydown', { key: k, shiftKey, bubbles: true }));
    key('ArrowRight');
    key('ArrowRight');
    key('ArrowDown', true);
    expect(pos()).toEqual({ x: at.x + 40, y: at.y + 1 });

    $('.node[data-node="close"] .port.out')!.click();
    $('.node[data-node="ema1"] .port.in')!.click();
    expect($$('.wires path.wire')).toHaveLength(9);
    expect(text('.status-line')).toBe('unsaved changes');

    button('Save')!.click();
    await until(() => text('.status-line').startsWith('saved'), 'the save');
    const stored = await api(`/api/strategies/${id}`);
    expect(stored.graph.nodes).toHaveLength(8);
    const ema = stored.graph.nodes.find((n: { id: string }) => n.id === 'ema1');
    expect(ema.data).toEqual({ period: 12 });
    expect(ema.position).toEqual({ x: at.x + 40, y: at.y + 1 });
    expect(stored.graph.edges.map((e: { id: string }) => e.id)).toContain('close.value->ema1.value');
    expect(stored.compilationReport.ok).toBe(true);

    // undo takes the wire back; the EMA's input is then open, which Check draws on the node
    button('Undo')!.click();
    expect($$('.wires path.wire')).toHaveLength(8);
    expect(text('.status-line')).toBe('unsaved changes');
    button('Check')!.click();
    await until(() => text('.status-line') === '1 errors: see the red nodes', 'the check');
    expect($$('.node.has-error').map((n) => n.dataset.node)).toEqual(['ema1']);
    $('.node[data-node="close"] .port.out')!.click();
    $('.node[data-node="ema1"] .port.in')!.click();
    button('Save')!.click();
    await until(() => text('.status-line') === 'saved', 'the second save');
    expect((await api(`/api/strategies/${id}`)).compilationReport.ok).toBe(true);

    // the history: the template as v1, the EMA as v2 (the second save changed no behaviour); v1
    // restored becomes v3 (the template's seven nodes), and v2 restored again v4
    const history = $<HTMLDetailsElement>('details.history')!;
    history.open = true;
    history.dispatchEvent(new Event('toggle'));
    const versions = () => $$('details.history tbody tr').map((r) => r.querySelector('td')?.textContent);
    await until(() => versions().length === 2, 'the versions');
    expect(versions()).toEqual(['v2 (current)', 'v1']);
    button('Restore v1')!.click();
    await until(() => text('.status-line') === 'restored v1 as v3', 'the restore');
    expect($$('.node')).toHaveLength(7);
    await until(() => versions()[0] === 'v3 (current)', 'the new version listed');
    button('Restore v2')!.click();
    await until(() => text('.status-line') === 'restored v2 as v4', 'the second restore');
    expect($$('.node')).toHaveLength(8);
    // what v2 changed from v1: the EMA and its wire
    await until(() => button('Changes in v2'), 'the changes button');
    button('Changes in v2')!.click();
    await until(() => $$('details.history .changes li').length > 0, 'the changes');
    expect($$('details.history .changes li').map((li) => li.textContent)).toEqual([
      'added ema1 (indicator.ema)',
      'wired close.value → ema1.value',
    ]);
    const back = await api(`/api/strategies/${id}`);
    expect(back.version).toBe(4);
    expect(back.graph.edges.map((e: { id: string }) => e.id)).toContain('close.value->ema1.value');
  });

  it("previews the graph's signals on candles, then backtests it and shows the results", async () => {
    const forms = $$<HTMLFormElement>('.run-forms form');
    const preview = forms.find((f) => f.textContent?.includes('Preview'))!;
    type(preview.querySelector<HTMLSelectElement>('select[name=symbol]'), 'GOOG');
    type(preview.querySelector<HTMLSelectElement>('select[name=interval]'), '1d');
    preview.requestSubmit();
    await until(() => $('.preview svg'), 'the preview chart');
    expect($$('.preview polygon.mark-buy').length).toBeGreaterThan(0);
    expect($$('.preview polygon.mark-sell').length).toBeGreaterThan(0);
    expect(text('.preview .chart-title')).toMatch(/^GOOG 1d: \d+ signals on 300 candles$/);

    // the strategy check on the same stored candles, in place of the preview
    const check = forms.find((f) => f.textContent?.includes('Check strategy'))!;
    type(check.querySelector<HTMLSelectElement>('select[name=symbol]'), 'GOOG');
    type(check.querySelector<HTMLSelectElement>('select[name=interval]'), '1d');
    check.requestSubmit();
    await until(() => $('.preview .strategy-check'), 'the strategy check');
    expect(text('.strategy-check h3')).toBe('Strategy check on 2148 bars');
    expect(text('.strategy-check .check-ok p')).toMatch(/^Look-ahead: none: 60 bars evaluated again/);
    expect($$('.strategy-check tbody tr').length).toBeGreaterThan(3);
    expect(text('.strategy-check .check-advice')).toMatch(/^Recommended warm-up: \d+ bars/);

    const bt = forms.find((f) => f.textContent?.includes('Run backtest'))!;
    type(bt.querySelector<HTMLSelectElement>('select[name=symbol]'), 'GOOG');
    type(bt.querySelector<HTMLSelectElement>('select[name=interval]'), '1d');
    bt.requestSubmit();
    await until(() => /^#\/backtests\/[0-9a-f-]{36}$/.test(location.hash), 'the backtest page');
    const id = location.hash.split('/')[2]!;
    await until(() => $('table.stats'), 'the statistics', 60_000);
    const stats = await api(`/api/backtests/${id}`);
    expect(stats.status).toBe('done');
    const row = (k: string) =>
      $$('table.stats tr')
        .find((r) => r.querySelector('th')?.textContent === k)
        ?.querySelector('td')?.textContent;
    expect(row('trades')).toBe(String(stats.metrics.trades));
    const risk = (await api(`/api/analytics/backtests/${id}`)).report;
    expect(row('var95Pct')).toBe(
      Number(risk.var95Pct).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
    );
    expect(stats.metrics.trades).toBeGreaterThan(0);
    expect(row('avgMaePct')).toBe(
      Number(risk.avgMaePct).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
    );
    expect($$('main .chart-box svg').length).toBe(3); // equity, drawdown, and the trades' MAE against return
    // one point per trade, each titled with its MAE and return as the trades API has them
    const fills = await api(`/api/backtests/${id}/trades`);
    const dots = $$('main svg.mae circle').map((c) => c.querySelector('title')?.textContent);
    expect(dots).toHaveLength(fills.length);
    expect(dots[0]).toBe(
      `MAE ${fmt(Number((fills[0].mae * 100).toFixed(2)))} %, return ${fmt(Number((fills[0].returnPct * 100).toFixed(2)))} %`,
    );
    expect($$('main table th').map((t) => t.textContent)).toEqual(expect.arrayContaining(['MAE %', 'MFE %']));
    // what closed the trades: one row per reason, as the API groups them, and each trade's own
    const exitRows = $$('.exits tbody tr').map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent));
    expect(exitRows.map((r) => [r[0], Number(r[1])])).toEqual(
      risk.exits.map((e: { reason: string; trades: number }) => [
        e.reason === 'end' ? 'end of data' : `signal (${e.reason})`,
        e.trades,
      ]),
    );
    expect(fills.every((f: { exitReason?: string }) => typeof f.exitReason === 'string')).toBe(true);
    // and what opened them: the entry's action node
    const entryRows = $$('.entries tbody tr').map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent));
    expect(entryRows.map((r) => [r[0], Number(r[1])])).toEqual(
      risk.entries.map((e: { reason: string; trades: number }) => [e.reason, e.trades]),
    );
    expect($$('main table th').map((t) => t.textContent)).toEqual(
      expect.arrayContaining(['Opened by', 'Closed by', 'Entries']),
    );
    // a Monte Carlo over its trades, beside the run's own figures
    button('Monte Carlo')!.click();
    await until(() => $('.monte-carlo svg'), 'the Monte Carlo');
    const mc = await api(`/api/analytics/backtests/${id}/monte-carlo?runs=2000`);
    const tile = (k: string) =>
      $$('.monte-carlo .figure')
        .find((f) => f.querySelector('small')?.textContent === k)
        ?.querySelector('strong')?.textContent;
    expect(tile('Return, this run')).toBe(
      `${Number(mc.actual.returnPct).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} %`,
    );
    expect(tile('Chance of a loss')).toBe(
      `${(mc.probabilityOfLoss * 100).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })} %`,
    );
    button('Show the full report')!.click();
    const frame = await until(() => $<HTMLIFrameElement>('iframe.report'), 'the report');
    expect(frame.getAttribute('sandbox')).toBe(''); // no scripts, an origin of its own
    expect(frame.getAttribute('srcdoc')).toContain('<svg');
    const trades = await api(`/api/backtests/${id}/trades`);
    expect($$('main h2').at(-1)?.firstChild?.textContent).toBe(`Trades (${trades.length}) `);
    // the trades as a CSV file, saved from the page
    const [csv] = await downloads(() => button('CSV')!.click());
    expect(csv!.name).toBe(`backtest-${id}-trades.csv`);
    const lines = csv!.text.trimEnd().split('\r\n');
    expect(lines).toHaveLength(trades.length + 1);
    expect(lines[0]).toMatch(
      /^size,entryBar,exitBar,entryTime,exitTime,entryPrice,exitPrice,pnl,returnPct,fees,mae,mfe,exitReason,entryReason$/,
    );

    // from the backtest to paper trading: the same strategy, symbol and money, on each closed 1d candle
    const ran = await api(`/api/backtests/${id}`);
    button('Paper trade it')!.click();
    await until(() => /^#\/sessions\/[0-9a-f-]{36}$/.test(location.hash), 'the session page');
    const session = await api(`/api/forward-tests/${location.hash.split('/')[2]}`);
    expect(session).toMatchObject({
      strategyId: ran.strategyId,
      symbol: 'GOOG',
      name: expect.stringMatching(/\(from backtest [0-9a-f]{8}\)$/),
      config: {
        startingBalance: ran.parameters.startingBalance,
        feeRate: ran.parameters.feeRate,
        evaluation: { mode: 'candle', interval: '1d' },
        strategyVersion: ran.parameters.strategyVersion,
      },
    });
    // (removed again, as a script would: the later steps count the sessions they start)
    await api(`/api/forward-tests/${session.id}`, { method: 'DELETE' }).catch(() => undefined);
    location.hash = `#/backtests/${id}`;
    await until(() => $('table.stats'), 'the backtest again');
  });

  it('sweeps two parameters over a grid and ranks the combinations', async () => {
    const sid = (await api('/api/strategies'))[0].id;
    location.hash = `#/strategies/${sid}`;
    const form = await until(
      () => $$<HTMLFormElement>('.run-forms form').find((f) => f.textContent?.includes('Run sweep')),
      'the editor',
    );
    expect(form.querySelector<HTMLInputElement>('input[name=grid]')!.value).toBe(
      'fast.period=5,10,20; slow.period=15,30,60',
    );
    type(form.querySelector<HTMLInputElement>('input[name=grid]'), 'fast.period=0');
    form.requestSubmit();
    await until(
      () => $$('.toast').find((t) => t.textContent === 'Sweep: fast.period: "0" must be at least 1'),
      'the refusal',
    );
    type(form.querySelector<HTMLInputElement>('input[name=grid]'), 'fast.period=5,10; slow.period=30,60');
    type(form.querySelector<HTMLSelectElement>('select[name=symbol]'), 'GOOG');
    type(form.querySelector<HTMLSelectElement>('select[name=interval]'), '1d');
    type(form.querySelector<HTMLSelectElement>('select[name=rankBy]'), 'returnPct');
    form.requestSubmit();
    await until(() => /^#\/sweeps\/[0-9a-f-]{36}$/.test(location.hash), 'the sweep page');
    const id = location.hash.split('/')[2]!;
    await until(() => $$('main tbody tr').length === 4 && !$('main .progress'), 'all four ranked', 60_000);
    const api4 = await api(`/api/backtests/sweeps/${id}`);
    expect($$('main tbody tr').map((r) => r.querySelector('td:nth-child(2)')?.textContent)).toEqual(
      api4.ranked.map(
        (x: { combo: Record<string, number> }) =>
          `fast.period=${x.combo['fast.period']}, slow.period=${x.combo['slow.period']}`,
      ),
    );
    expect(text('main p')).toBe('4 of 4 backtests done, ranked by returnPct');
    // what every point ran with: the form's money and fee
    expect(api4.settings).toMatchObject({ feeRate: 0.001, allowShort: false, slippageBps: 0 });
    expect(text('main p.settings')).toBe(`balance ${api4.settings.startingBalance} · fee 0.1 %`);
    // the history it ran on: the bars closed when it was asked for
    expect(text('main p.as-of')).toBe(`On the bars closed by ${api4.asOf.slice(0, 16).replace('T', ' ')} UTC`);
    // and as a heatmap: a cell per combination, titled with its return as the ranking has it
    expect(text('main .heatmap .chart-title')).toBe('returnPct by fast.period and slow.period');
    const cells = $$('main .heatmap rect.heat-cell').map((r) => r.querySelector('title')?.textContent);
    expect(cells).toHaveLength(4);
    const best = api4.ranked[0];
    expect(cells).toContain(
      `fast.period=${best.combo['fast.period']}, slow.period=${best.combo['slow.period']}: ${fmt(best.returnPct)}`,
    );
    // what the return depends on, as the API has it
    expect(text('main p.importance')).toBe(
      `What returnPct depends on: ${api4.importance
        .map(
          (p: { key: string; share: number; best: string }) =>
            `${p.key} ${(p.share * 100).toFixed(0)} % (best ${p.best})`,
        )
        .join(', ')} of its spread over the combinations run.`,
    );
    // the best point among its neighbours, and the point best with its neighbours, as the API has them
    const comboText = (x: { combo: Record<string, number> }) =>
      `fast.period=${x.combo['fast.period']}, slow.period=${x.combo['slow.period']}`;
    expect(text('main p.robust')).toContain(
      api4.robust.id === api4.ranked[0].id
        ? `The best, ${comboText(api4.ranked[0])}, also stands best with its neighbours: returnPct `
        : `Most robust: ${comboText(api4.robust)} (#${api4.robust.rank}), returnPct `,
    );
    expect(text('main p.robust')).toContain('its 2 neighbours run');
    expect($$('main tbody tr').map((r) => r.querySelector('td:nth-child(6)')?.textContent)).toEqual(
      api4.ranked.map((x: { plateau: { mean: number } }) => {
        // as the table writes a number: whole, or to 2 decimals (4 under 1)
        const v = x.plateau.mean;
        const d = Math.abs(v) < 1 ? 4 : 2;
        const shown = Number.isInteger(v)
          ? String(v)
          : v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
        return `${shown} (2)`;
      }),
    );
    // the Pareto front of return and drawdown: a point each, those on the front blue and marked in the table
    expect(api4.pareto.x).toBe('returnPct');
    expect(text('main p.pareto-text')).toBe(
      `Pareto front: ${api4.pareto.ids.length} of 4 backtests, those no other beats on both ` +
        `${[...$$('main p.pareto-text select')].map((x) => x.textContent).join(' and ')}` +
        ' (higher is better on each; a drawdown is negative).',
    );
    expect($$<HTMLSelectElement>('main p.pareto-text select').map((x) => x.value)).toEqual([
      'returnPct',
      'maxDrawdownPct',
    ]);
    const blue = $$('main .pareto circle.pareto-front').map((c) => c.closest('a')!.getAttribute('href'));
    expect(blue.sort()).toEqual(api4.pareto.ids.map((x: string) => `#/backtests/${x}`).sort());
    expect($$('main .pareto circle')).toHaveLength(4);
    const marked = $$('main tbody tr').filter((r) => r.querySelector('td:nth-child(7)')?.textContent === '●');
    expect(marked).toHaveLength(api4.pareto.ids.length);
    // another pair of measures: the page asks the API for that front
    const sel = $$<HTMLSelectElement>('main p.pareto-text select')[0]!;
    sel.value = 'sharpe';
    sel.dispatchEvent(new Event('change'));
    const sc = await api(`/api/backtests/sweeps/${id}?pareto=sharpe,maxDrawdownPct`);
    await until(
      () => $$<HTMLSelectElement>('main p.pareto-text select')[0]?.value === 'sharpe',
      'the front of Sharpe and drawdown',
    );
    expect($$('main .pareto circle.pareto-front')).toHaveLength(sc.pareto.ids.length);
    // how overfit its best is, when asked: the PBO and the deflated Sharpe ratio as the API has them
    button('Check overfitting')!.click();
    await until(() => $('main .overfitting p.pbo'), 'the overfitting figures');
    const o = await api(`/api/backtests/sweeps/${id}/overfitting`);
    expect(text('main .overfitting p.pbo')).toMatch(
      new RegExp(`^Probability of backtest overfitting: ${(o.pbo * 100).toFixed(1)} %\\. In .* of 12870 ways`),
    );
    expect(text('main .overfitting p.dsr')).toContain(`Deflated Sharpe Ratio ${o.best.dsr.toFixed(3)}`);
    expect($$('main .histogram rect')).toHaveLength(16);
    // the most robust point, saved as a strategy of its own (deleted again: later steps read the first strategy)
    button(`Save the most robust (${comboText(api4.robust)}) as a strategy`)!.click();
    await until(() => /^#\/strategies\/[0-9a-f-]{36}$/.test(location.hash), 'the most robust in the editor');
    const kept = await api(`/api/strategies/${location.hash.split('/')[2]}`);
    const period = (nodeId: string) =>
      kept.graph.nodes.find((n: { id: string; data: { period: number } }) => n.id === nodeId).data.period;
    expect([period('fast'), period('slow')]).toEqual([
      api4.robust.combo['fast.period'],
      api4.robust.combo['slow.period'],
    ]);
    expect(kept.name).toContain(`(fast.period=${api4.robust.combo['fast.period']} slow.period=`);
    await api(`/api/strategies/${kept.id}`, { method: 'DELETE' }).catch(() => undefined);
    expect((await api(`/api/strategies/${kept.id}`)).error).toBeDefined();
    // the best point paper-traded from its page: its combination as a strategy of its own, the sweep's money
    const top = api4.ranked[0];
    location.hash = `#/backtests/${top.id}`;
    (await until(() => button('Paper trade this combination'), "the best point's page")).click();
    await until(() => /^#\/sessions\/[0-9a-f-]{36}$/.test(location.hash), 'the session page');
    const traded = await api(`/api/forward-tests/${location.hash.split('/')[2]}`);
    const point = await api(`/api/backtests/${top.id}`);
    expect(traded.config).toMatchObject({
      feeRate: point.parameters.feeRate,
      evaluation: { mode: 'candle', interval: '1d' },
    });
    const copy = await api(`/api/strategies/${traded.strategyId}`);
    expect(copy.id).not.toBe(point.strategyId);
    const periodOf = (nodeId: string) =>
      copy.graph.nodes.find((n: { id: string; data: { period: number } }) => n.id === nodeId).data.period;
    expect([periodOf('fast'), periodOf('slow')]).toEqual([top.combo['fast.period'], top.combo['slow.period']]);
    await api(`/api/forward-tests/${traded.id}`, { method: 'DELETE' }).catch(() => undefined);
    await api(`/api/strategies/${copy.id}`, { method: 'DELETE' }).catch(() => undefined);
    location.hash = '#/strategies';
    await until(() => !$('.run-forms'), 'the editor left');
  });

  it('searches a grid too large to run whole at random: ranges, a number of points', async () => {
    const form = await sweepForm('fast.period=2..30; slow.period=35..200:5');
    form.requestSubmit();
    await until(
      () =>
        $$('.toast').find((t) => t.textContent === 'Sweep: 986 combinations; at most 500, or a random sample of them'),
      'the refusal',
    );
    type(form.querySelector<HTMLInputElement>('input[name=sample]'), '5');
    form.requestSubmit();
    await until(() => /^#\/sweeps\/[0-9a-f-]{36}$/.test(location.hash), 'the sweep page');
    await until(() => $$('main tbody tr').length === 5 && !$('main .progress'), 'five ranked', 60_000);
    const s = await api(`/api/backtests/sweeps/${location.hash.split('/')[2]}`);
    expect(text('main p.muted')).toBe(`Random search: 5 of 986 points, seed ${s.sample.seed}`);
    for (const x of s.ranked) expect(x.combo['slow.period'] % 5).toBe(0);
  });

  it('searches adaptively (TPE): proposed points, the best score by backtest, a sweep stopped', async () => {
    const form = await sweepForm('fast.period=2..30; slow.period=35..200:5');
    type(form.querySelector<HTMLSelectElement>('select[name=method]'), 'tpe');
    type(form.querySelector<HTMLInputElement>('input[name=sample]'), '');
    form.requestSubmit();
    await until(
      () => $$('.toast').find((t) => t.textContent === 'Sweep: an adaptive search needs a number of points'),
      'the refusal without a count',
    );
    type(form.querySelector<HTMLInputElement>('input[name=sample]'), '14');
    form.requestSubmit();
    await until(() => /^#\/sweeps\/[0-9a-f-]{36}$/.test(location.hash), 'the sweep page');
    await until(() => $$('main tbody tr').length === 14 && !$('main .progress'), 'fourteen ranked', 60_000);
    const s = await api(`/api/backtests/sweeps/${location.hash.split('/')[2]}`);
    expect(s.sample).toMatchObject({ method: 'tpe', count: 14, of: 986, startup: 10, parallel: 4 });
    expect(text('main p.muted')).toBe(
      `Adaptive search (TPE): 14 of 986 points, the first 10 at random, then each proposed from the results so far, 4 at a time; seed ${s.sample.seed}`,
    );
    expect($$('main .chart-title').map((t) => t.textContent)).toContain(
      'Best sharpe by backtest, in the order proposed (the first 10 at random)',
    );
    expect(button('Stop sweep')).toBeFalsy();
    // a long one, stopped from its page: what was queued is cancelled, the page says so and settles
    const again = await sweepForm('fast.period=2..30; slow.period=35..200:5');
    type(again.querySelector<HTMLSelectElement>('select[name=method]'), 'tpe');
    type(again.querySelector<HTMLInputElement>('input[name=sample]'), '300');
    again.requestSubmit();
    await until(() => /^#\/sweeps\/[0-9a-f-]{36}$/.test(location.hash), 'the long sweep');
    (await until(() => button('Stop sweep'), 'its stop button')).click();
    await until(
      () => $$('.toast').find((t) => /^Sweep stopped: \d+ backtests cancelled$/.test(t.textContent ?? '')),
      'stopped',
    );
    await until(() => !$('main .progress'), 'settled', 60_000);
    const stopped = await api(`/api/backtests/sweeps/${location.hash.split('/')[2]}`);
    expect(stopped.total).toBeLessThan(300);
    expect(stopped.progress).toBe(1);
    // a walk-forward searching each window adaptively, from the same form
    const wfForm = await sweepForm('fast.period=2..30; slow.period=35..200:5');
    type(wfForm.querySelector<HTMLSelectElement>('select[name=method]'), 'tpe');
    type(wfForm.querySelector<HTMLInputElement>('input[name=sample]'), '8');
    type(wfForm.querySelector<HTMLInputElement>('input[name=folds]'), '3');
    [...wfForm.querySelectorAll('button')].find((b) => b.textContent === 'Walk-forward')!.click();
    await until(() => /^#\/backtests\/[0-9a-f-]{36}$/.test(location.hash), 'the walk-forward page');
    await until(() => $('.walk-forward tbody tr'), 'its folds', 60_000);
    const wf = await api(`/api/backtests/${location.hash.split('/')[2]}/walk-forward`);
    expect(wf.spec.search).toMatchObject({ method: 'tpe', count: 8, of: 986, startup: 8 });
    expect($('main')!.textContent).toContain(
      `each window searched adaptively (TPE: 8 of 986 points, the first 8 at random, seed ${wf.spec.search.seed})`,
    );
  });

  it('runs a walk-forward from the same grid and shows each fold beside the chained out-of-sample result', async () => {
    const form = await sweepForm('fast.period=5,10; slow.period=30,60');
    type(form.querySelector<HTMLInputElement>('input[name=folds]'), '3');
    [...form.querySelectorAll('button')].find((b) => b.textContent === 'Walk-forward')!.click();
    await until(() => /^#\/backtests\/[0-9a-f-]{36}$/.test(location.hash), 'the backtest page');
    const id = location.hash.split('/')[2]!;
    await until(() => $('.walk-forward tbody tr'), 'the folds', 60_000);
    const wf = await api(`/api/backtests/${id}/walk-forward`);
    expect(wf.spec).toMatchObject({ folds: 3, outOfSamplePct: 25, anchored: false });
    const rows = $$('.walk-forward tbody tr');
    expect(rows.map((r) => r.querySelector('td:nth-child(4)')?.textContent)).toEqual(
      wf.folds.map(
        (f: { chosen: Record<string, number> }) =>
          `fast.period=${f.chosen['fast.period']} slow.period=${f.chosen['slow.period']}`,
      ),
    );
    expect(text('main .chart-box .chart-title')).toBe('Equity out of sample (the folds chained)');
    // what the last fold picked, saved as a strategy of its own to trade next
    const last = wf.folds.at(-1).chosen;
    button(
      `Save the latest pick (fast.period=${last['fast.period']} slow.period=${last['slow.period']}) as a strategy`,
    )!.click();
    await until(() => /^#\/strategies\/[0-9a-f-]{36}$/.test(location.hash), 'the saved pick in the editor');
    const saved = await api(`/api/strategies/${location.hash.split('/')[2]}`);
    const param = (nodeId: string) =>
      saved.graph.nodes.find((n: { id: string; data: { period: number } }) => n.id === nodeId).data.period;
    expect([param('fast'), param('slow')]).toEqual([last['fast.period'], last['slow.period']]);
    expect(saved.compilationReport.ok).toBe(true);
    location.hash = '#/backtests';
    await until(() => $$('main tbody tr').find((r) => r.textContent?.includes('walk-forward')), 'its kind in the list');
  });

  it('backtests the strategy over a portfolio of two symbols and shows what each contributed', async () => {
    // a second symbol's daily history, imported as a script would
    const imported = await api('/api/market/history/import?symbol=GOOGL&interval=1d', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: backtestingPy('GOOG.csv'),
    });
    expect(imported.imported).toBe(2148);
    const sid = (await api('/api/strategies'))[0].id;
    location.hash = `#/strategies/${sid}`;
    const form = await until(
      () => $$<HTMLFormElement>('.run-forms form').find((f) => f.textContent?.includes('Run backtest')),
      'the editor',
    );
    type(form.querySelector<HTMLSelectElement>('select[name=interval]'), '1d');
    // a mistake first: said where it is typed, nothing is sent
    type(form.querySelector<HTMLInputElement>('input[name=symbols]'), 'GOOG');
    [...form.querySelectorAll('button')].find((b) => b.textContent === 'Portfolio backtest')!.click();
    await until(() => $$('.toast-error').find((e) => /at least two symbols/.test(e.textContent ?? '')), 'the refusal');
    type(form.querySelector<HTMLInputElement>('input[name=symbols]'), 'GOOG:3, googl:1');
    // GOOGL in half shares, its own quantity step; a drawdown stop on the summed equity it does not reach
    type(form.querySelector<HTMLInputElement>('input[name=qtyStep]'), 'googl=0.5');
    type(form.querySelector<HTMLInputElement>('input[name=portfolioDrawdownPct]'), '99');
    [...form.querySelectorAll('button')].find((b) => b.textContent === 'Portfolio backtest')!.click();
    await until(() => /^#\/backtests\/[0-9a-f-]{36}$/.test(location.hash), 'the backtest page');
    const id = location.hash.split('/')[2]!;
    type(form.querySelector<HTMLInputElement>('input[name=qtyStep]'), '');
    type(form.querySelector<HTMLInputElement>('input[name=portfolioDrawdownPct]'), '');
    const legRows = () => [...($('.portfolio table')?.querySelectorAll('tbody tr') ?? [])];
    await until(() => legRows().length === 2, 'the symbols', 60_000);
    const pf = await api(`/api/backtests/${id}/portfolio`);
    expect(legRows().map((r) => [...r.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent))).toEqual([
      ['GOOG', '75.0'],
      ['GOOGL', '25.0'],
    ]);
    expect(pf.legs.map((l: { startingBalance: number }) => l.startingBalance)).toEqual([7500, 2500]);
    expect(pf.spec.rules).toEqual({ GOOGL: { qtyStep: 0.5 } });
    expect(pf.spec.risk).toEqual({ maxDrawdownPct: 99 });
    await until(
      () => text('main p.settings').endsWith('portfolio drawdown stop 99 % · GOOGL: quantity step 0.5'),
      'its settings line',
    );
    expect((await api(`/api/backtests/${id}`)).metrics.limits).toEqual({ halts: [], refused: {} });
    const halves = (await api(`/api/backtests/${id}/trades`)).filter((x: { symbol: string }) => x.symbol === 'GOOGL');
    expect(halves.some((x: { size: number }) => x.size % 1 === 0.5)).toBe(true);
    // the same bars under two names: their returns move together, as the correlation table shows
    expect(pf.correlation.matrix[0][1]).toBeGreaterThan(0.99);
    const corr = $$('.portfolio table')[1]!;
    expect([...corr.querySelectorAll('tbody tr')].map((r) => r.querySelector('td')?.textContent)).toEqual([
      'GOOG',
      'GOOGL',
    ]);
    expect(text('main .chart-box .chart-title')).toBe('Equity (all symbols together)');
    location.hash = '#/backtests';
    await until(() => $$('main tbody tr').find((r) => r.textContent?.includes('portfolio')), 'its kind in the list');
  });

  it('sweeps over the same two symbols: each point a portfolio backtest, the page names them and the pairs that work together', async () => {
    const form = await sweepForm('fast.period=5,10; slow.period=30,60; buy.sizing=pct_equity; buy.amount=50,100');
    type(form.querySelector<HTMLInputElement>('input[name=symbols]'), 'GOOG:3, googl:1');
    form.requestSubmit();
    await until(() => /^#\/sweeps\/[0-9a-f-]{36}$/.test(location.hash), 'the sweep page');
    const id = location.hash.split('/')[2]!;
    await until(() => $$('main tbody tr').length === 8 && !$('main .progress'), 'all eight ranked', 60_000);
    const s = await api(`/api/backtests/sweeps/${id}`);
    expect(s.portfolio).toEqual({ symbols: ['GOOG', 'GOOGL'], weights: [0.75, 0.25] });
    expect(text('main p.portfolio-text')).toBe('Each point a portfolio backtest of GOOG 75 %, GOOGL 25 %');
    // three parameters: each pair's cells hold two points, so interactions can be told from noise; the
    // page names those of 1 % or more, as the API has them
    const named = s.interactions.filter((x: { share: number }) => x.share >= 0.01);
    if (named.length)
      expect(text('main p.interactions')).toBe(
        `Together, beyond each alone: ${named.map((x: { keys: string[]; share: number }) => `${x.keys.join(' × ')} ${(x.share * 100).toFixed(0)} %`).join(', ')}.`,
      );
    else expect($('main p.interactions')).toBeNull();
    location.hash = '#/backtests';
  });

  it('walks forward over the same two symbols: each window a portfolio backtest, the page names them', async () => {
    const form = await sweepForm('fast.period=5,10; slow.period=30,60');
    type(form.querySelector<HTMLInputElement>('input[name=folds]'), '3');
    type(form.querySelector<HTMLInputElement>('input[name=symbols]'), 'GOOG:3, googl:1');
    [...form.querySelectorAll('button')].find((b) => b.textContent === 'Walk-forward')!.click();
    await until(() => /^#\/backtests\/[0-9a-f-]{36}$/.test(location.hash), 'the walk-forward page');
    const id = location.hash.split('/')[2]!;
    await until(() => $('.walk-forward tbody tr'), 'its folds', 60_000);
    const wf = await api(`/api/backtests/${id}/walk-forward`);
    expect(wf.portfolio).toEqual({ symbols: ['GOOG', 'GOOGL'], weights: [0.75, 0.25] });
    expect($$('.walk-forward tbody tr')).toHaveLength(3);
    expect(text('.wf-portfolio')).toMatch(/^Over a portfolio: GOOG 75 %, GOOGL 25 %\./);
    // what each symbol made in each fold, as the report's table says it
    expect($$('.walk-forward thead th').at(-1)?.textContent).toBe('By symbol: PnL (trades)');
    expect($$('.walk-forward tbody tr').map((r) => r.querySelector('td:last-child')?.textContent)).toEqual(
      wf.folds.map((f: { legs: Parameters<typeof legsCell>[0] }) => legsCell(f.legs)),
    );
    const trades = await api(`/api/backtests/${id}/trades`);
    expect(new Set(trades.map((t: { symbol: string }) => t.symbol))).toEqual(new Set(['GOOG', 'GOOGL']));
    location.hash = '#/backtests';
  });

  it('compares two finished backtests side by side', async () => {
    location.hash = '#/backtests';
    // two finished runs ticked (a run still queued or failed cannot be compared)
    const finished = () =>
      $$('.runs tbody tr')
        .filter((r) => r.querySelector('td:nth-child(6)')?.textContent === 'done')
        .map((r) => r.querySelector<HTMLInputElement>('input[type=checkbox]')!);
    await until(() => text('main h1') === 'Backtests' && finished().length >= 2, 'the list');
    const boxes = finished().slice(0, 2);
    const ids = boxes.map((b) => b.closest('tr')!.querySelector('a')!.getAttribute('href')!.split('/')[2]!);
    for (const b of boxes) {
      b.checked = true;
      b.dispatchEvent(new Event('change'));
    }
    button('Compare selected')!.click();
    await until(() => $('.compare table.stats'), 'the comparison');
    expect(location.hash).toBe(`#/compare/${ids.join(',')}`);
    expect($$('.compare thead th a').map((a) => a.getAttribute('href'))).toEqual(ids.map((id) => `#/backtests/${id}`));
    const row = $$('.compare tbody tr').find((r) => r.querySelector('th')?.textContent === 'returnPct')!;
    const want = await Promise.all(ids.map(async (id) => (await api(`/api/backtests/${id}`)).metrics.returnPct));
    expect([...row.querySelectorAll('td')].map((td) => td.textContent)).toEqual(
      want.map((v: number) => v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })),
    );
    expect($$('.compare svg path[stroke]').length).toBe(2); // one return curve each
  });

  it('paper-trades the strategy on the live feed, then stops the session', async () => {
    const sid = (await api('/api/strategies'))[0].id;
    location.hash = `#/strategies/${sid}`;
    const form = await until(
      () => $$<HTMLFormElement>('.run-forms form').find((f) => f.textContent?.includes('Start session')),
      'the editor',
    );
    type(form.querySelector<HTMLSelectElement>('select[name=symbol]'), 'BTCUSD');
    form.requestSubmit();
    await until(() => /^#\/sessions\/[0-9a-f-]{36}$/.test(location.hash), 'the session page');
    const id = location.hash.split('/')[2]!;
    const status = () =>
      $$('.figure')
        .find((f) => f.querySelector('small')?.textContent === 'Status')
        ?.querySelector('strong')?.textContent;
    await until(() => status() === 'running', 'a running session');
    expect($$('main .chart-box svg').length).toBe(2);
    // what its strategy warmed on, as the API says (a tick session: the window's ticks)
    const warmed = (await api(`/api/forward-tests/${id}`)).warmedOn;
    expect(warmed.storedCandles).toBe(0);
    const figure = (k: string) =>
      $$('.figure')
        .find((f) => f.querySelector('small')?.textContent === k)
        ?.querySelector('strong')?.textContent;
    await until(() => figure('Warmed on') !== undefined, 'the warm-up figure');
    expect(figure('Warmed on')).toBe(`${warmed.windowTicks} ticks`);
    // an order by hand from the page's form: 10 % of the equity bought, or half a position the strategy
    // holds closed; the fill in words, and in the order log as the form's
    const held = (await api(`/api/forward-tests/${id}`)).position;
    const orderForm = await until(() => $<HTMLFormElement>('form.order-form'), 'the order form');
    type(orderForm.querySelector<HTMLSelectElement>('select[name=action]'), held ? 'close' : 'buy');
    type(orderForm.querySelector<HTMLInputElement>('input[name=amount]'), held ? '50' : '10');
    type(orderForm.querySelector<HTMLSelectElement>('select[name=sizing]'), 'pct_equity');
    orderForm.requestSubmit();
    await until(() => /^(Bought|Sold) [0-9.e-]+ BTCUSD at /.test(text('.order-result')), "the order's fill");
    const manual = (await api(`/api/forward-tests/${id}/orders?status=filled`)).filter(
      (o: { source: string }) => o.source === 'manual',
    );
    expect(manual).toHaveLength(1);
    expect(manual[0].action).toBe(held ? 'close' : 'buy');
    // a buy limit far under the market, from the same form: it rests, listed with a Move and a Cancel;
    // moved, then cancelled
    type(orderForm.querySelector<HTMLSelectElement>('select[name=action]'), 'buy');
    type(orderForm.querySelector<HTMLInputElement>('input[name=amount]'), '1');
    type(orderForm.querySelector<HTMLSelectElement>('select[name=sizing]'), 'fixed_qty');
    type(orderForm.querySelector<HTMLSelectElement>('select[name=type]'), 'limit');
    type(orderForm.querySelector<HTMLInputElement>('input[name=price]'), '1');
    type(orderForm.querySelector<HTMLInputElement>('input[name=validMinutes]'), '60');
    orderForm.requestSubmit();
    await until(
      () => text('.order-result').startsWith('Resting: buy 1 units, limit at 1, until '),
      'the order resting',
    );
    const resting = await api(`/api/forward-tests/${id}/open-orders`);
    expect(resting).toMatchObject([{ side: 'buy', type: 'limit', price: 1, amount: 1 }]);
    await until(() => $$('.open-orders li').length === 1, 'the resting order listed');
    expect(text('.open-orders li')).toContain('limit at 1');
    // moved to 2 from the price typed beside it
    const listButton = (label: string) =>
      [...$('.open-orders li')!.querySelectorAll('button')].find((x) => x.textContent === label)!;
    type($<HTMLInputElement>('.open-orders li input.move-price'), '2');
    listButton('Move').click();
    await until(() => text('.open-orders li').includes('limit at 2'), 'the resting order moved');
    expect(text('.open-orders li')).toContain('(amended)');
    expect(text('.order-result')).toMatch(/^Moved: buy 1 units, limit at 2, until .+ \(amended\)\.$/);
    expect(await api(`/api/forward-tests/${id}/open-orders`)).toMatchObject([{ id: resting[0].id, price: 2 }]);
    listButton('Cancel').click();
    await until(() => $$('.open-orders li').length === 0, 'the resting order cancelled');
    expect(await api(`/api/forward-tests/${id}/open-orders`)).toEqual([]);
    // a buy trailing stop 40 % over the low (never reached here): its trail % in the form, listed with
    // where it rests, widened to 45 % from its box, then cancelled
    type(orderForm.querySelector<HTMLSelectElement>('select[name=type]'), 'trailing_stop');
    type(orderForm.querySelector<HTMLInputElement>('input[name=price]'), '');
    type(orderForm.querySelector<HTMLInputElement>('input[name=trailPercent]'), '40');
    orderForm.requestSubmit();
    await until(() => text('.order-result').startsWith('Resting: buy 1 units, trailing stop at '), 'the trailing stop');
    await until(() => text('.open-orders li').includes('(40 % over the low of '), 'the trailing stop listed');
    type($<HTMLInputElement>('.open-orders li input.move-price'), '45');
    listButton('Move').click();
    await until(() => text('.open-orders li').includes('(45 % over the low of '), 'the trailing stop widened');
    expect(await api(`/api/forward-tests/${id}/open-orders`)).toMatchObject([
      { type: 'trailing_stop', trailPercent: 45 },
    ]);
    listButton('Cancel').click();
    await until(() => $$('.open-orders li').length === 0, 'the trailing stop cancelled');
    type(orderForm.querySelector<HTMLInputElement>('input[name=trailPercent]'), '');
    type(orderForm.querySelector<HTMLSelectElement>('select[name=type]'), 'market');
    // its name and a drawdown stop, set while it runs: the heading and the settings line say them
    const edit = await until(() => $<HTMLFormElement>('details.edit-session form'), 'the name and limits form');
    type(edit.querySelector<HTMLInputElement>('input[name=name]'), 'Journey run');
    type(edit.querySelector<HTMLInputElement>('input[name=maxDrawdownPct]'), '80');
    edit.requestSubmit();
    await until(() => text('main h1') === 'Session Journey run · BTCUSD', 'the new name');
    expect((await api(`/api/forward-tests/${id}`)).config.risk).toMatchObject({ maxDrawdownPct: 80 });
    expect(text('main .settings')).toContain('drawdown stop 80 %');
    // the change kept, with when
    await until(() => text('.risk-changes').startsWith('Limits changed 1 time while it ran, last '), 'the change kept');
    expect((await api(`/api/forward-tests/${id}`)).config.riskChanges).toEqual([
      { at: expect.any(String), risk: { maxDrawdownPct: 80 } },
    ]);
    button('Stop')!.click();
    await until(() => status() === 'stopped', 'the stop');
    expect((await api(`/api/forward-tests/${id}`)).status).toBe('stopped');
    // a stopped session takes no orders: its form is gone
    expect($('form.order-form')).toBeNull();
    // run again: a new session with its graph and settings, running, on its own page
    button('Run again')!.click();
    await until(
      () => /^#\/sessions\/[0-9a-f-]{36}$/.test(location.hash) && !location.hash.endsWith(id),
      'the new session',
    );
    const again = await api(`/api/forward-tests/${location.hash.split('/')[2]}`);
    expect(again).toMatchObject({ status: 'running', symbol: 'BTCUSD', name: 'Journey run (again)' });
    expect(again.config).toMatchObject({ clonedFrom: id, risk: { maxDrawdownPct: 80 } });
    await until(() => text('main h1') === 'Session Journey run (again) · BTCUSD', 'its page');
    // removed again (the lists further on count the sessions)
    const auth = JSON.parse(localStorage.getItem('algotrade.session') ?? 'null').accessToken;
    const gone = await fetch(`${base}/api/forward-tests/${again.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${auth}` },
    });
    expect(gone.status).toBe(204);
    location.hash = `#/sessions/${id}`;
    await until(() => text('main h1') === 'Session Journey run · BTCUSD', 'the first session again');
    // its risk report (stopped: it no longer changes) as the API has it: how much of its life it traded
    // (all of it, then stopped by hand), the statistics and the exits, or why there are none yet
    button('Risk report')!.click();
    await until(() => $('.session-report')?.textContent, 'the risk report');
    const an = await api(`/api/analytics/sessions/${id}`);
    expect(an.activity).toMatchObject({ runningPct: 100, halts: 1, byReason: [{ reason: 'by hand', count: 1 }] });
    expect(text('.session-report .activity')).toBe(
      'Trading 100.0 % of the time since its start; stopped trading 1 time: 1 × by hand.',
    );
    if (an.report) {
      expect($$('.session-report .exits tbody tr').length).toBe(Math.max(1, an.report.exits.length));
      expect($$('.session-report .entries tbody tr').length).toBe(Math.max(1, an.report.entries.length));
    } else expect(text('.session-report p:not(.activity)')).toBe(an.reason);

    location.hash = '#/sessions';
    // the list page itself (the session page's trades table may still be there a moment)
    await until(() => text('main h1') === 'Paper trading' && $$('main tbody tr').length === 1, 'the sessions list');
    expect(text('main tbody tr')).toContain('stopped');
    const tile = (k: string) =>
      $$('.figure')
        .find((f) => f.querySelector('small')?.textContent === k)
        ?.querySelector('strong')?.textContent;
    expect(tile('Sessions')).toBe('1 stopped'); // the portfolio over all sessions
    expect(tile('Trades')).toBe(String((await api('/api/analytics/portfolio')).trades));
  });

  it('paper-trades the portfolio backtest: a session per symbol with its share, driven and removed together', async () => {
    // the portfolio backtest run from the form (not a sweep's point over the portfolio)
    const pb = (await api('/api/backtests')).find(
      (b: { kind: string; sweepId: string | null }) => b.kind === 'portfolio' && !b.sweepId,
    );
    location.hash = `#/backtests/${pb.id}`;
    (await until(() => button('Paper trade it'), 'the portfolio backtest')).click();
    await until(() => /^#\/paper-portfolios\/[0-9a-f-]{36}$/.test(location.hash), 'the paper portfolio page');
    const id = location.hash.split('/')[2]!;
    const legs = () =>
      $$('.portfolio-legs tbody tr').map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent));
    await until(() => legs().length === 2, 'its sessions');
    expect(legs().map((r) => r.slice(0, 3))).toEqual([
      ['GOOG', '75', 'running'],
      ['GOOGL', '25', 'running'],
    ]);
    const pf = await api(`/api/forward-tests/portfolios/${id}`);
    expect(pf.sessions.map((x: { startingBalance: number }) => x.startingBalance)).toEqual([7500, 2500]);
    // the backtest's drawdown stop on the summed equity, as typed beside the button; GOOGL's session in
    // the backtest's half shares, GOOG's in whole ones
    expect(pf.portfolioRisk).toEqual({ maxDrawdownPct: 99 });
    const steps = [];
    for (const x of pf.sessions) steps.push((await api(`/api/forward-tests/${x.id}`)).config.qtyStep);
    expect(steps).toEqual([undefined, 0.5]);
    const tile = (k: string) =>
      $$('.figure')
        .find((f) => f.querySelector('small')?.textContent === k)
        ?.querySelector('strong')?.textContent;
    expect(tile('Sessions')).toBe('2 running');
    // its limits on the sum changed while it runs: a drawdown stop of 40 % and a daily loss of 5 %
    const limits = await until(() => $<HTMLFormElement>('details.portfolio-limits form'), 'the limits form');
    expect(limits.querySelector<HTMLInputElement>('input[name=maxDrawdownPct]')!.value).toBe('99');
    type(limits.querySelector<HTMLInputElement>('input[name=maxDrawdownPct]'), '40');
    type(limits.querySelector<HTMLInputElement>('input[name=maxDailyLossPct]'), '5');
    limits.requestSubmit();
    await until(
      () => tile('Stops at drawdown') === '40.00 %' && tile('Pauses at daily loss') === '5.00 %',
      'the new limits',
    );
    expect((await api(`/api/forward-tests/portfolios/${id}`)).portfolioRisk).toEqual({
      maxDrawdownPct: 40,
      maxDailyLossPct: 5,
    });
    // the change kept, with when, and said under the form
    expect((await api(`/api/forward-tests/portfolios/${id}`)).portfolioRiskChanges).toEqual([
      { at: expect.any(String), risk: { maxDrawdownPct: 40, maxDailyLossPct: 5 } },
    ]);
    await until(
      () => text('.portfolio-limits .risk-changes').startsWith('Limits on the sum changed 1 time while it ran, last '),
      'the change kept',
    );
    button('Pause')!.click();
    await until(() => tile('Sessions') === '2 paused', 'both paused');
    button('Stop')!.click();
    await until(() => tile('Sessions') === '2 stopped', 'both stopped');
    expect((await api(`/api/forward-tests/portfolios/${id}`)).byStatus).toEqual({ stopped: 2 });
    // its timeline, newest first: each session's creation and start (one session, then the next), pause
    // and stop, all by hand
    const timeline = () =>
      $$('.timeline tbody tr').map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent));
    await until(() => timeline().length === 8, 'the timeline');
    expect(timeline().map(([symbol, , change, why]) => [symbol, change, why])).toEqual([
      ['GOOGL', 'paused → stopped', 'by hand'],
      ['GOOG', 'paused → stopped', 'by hand'],
      ['GOOGL', 'running → paused', 'by hand'],
      ['GOOG', 'running → paused', 'by hand'],
      ['GOOGL', 'created → running', 'by hand'],
      ['GOOGL', 'created', ''],
      ['GOOG', 'created → running', 'by hand'],
      ['GOOG', 'created', ''],
    ]);
    // listed on the paper trading page, then deleted with its sessions
    location.hash = '#/sessions';
    await until(() => $$('.paper-portfolios tbody tr').length === 1, 'the paper portfolios list');
    expect(text('.paper-portfolios tbody tr')).toContain('GOOG, GOOGL');
    // its two sessions compared side by side: their returns on one chart, their statistics as the API has them
    const ticks = $$<HTMLInputElement>('input[aria-label="tick this session"]');
    expect(ticks.length).toBe(3);
    const sessions = await api('/api/forward-tests');
    for (const s of pf.sessions as { id: string }[]) {
      const k = sessions.findIndex((x: { id: string }) => x.id === s.id);
      ticks[k]!.checked = true;
      ticks[k]!.dispatchEvent(new Event('change', { bubbles: true }));
    }
    button('Compare selected')!.click();
    await until(() => text('main h1') === 'Comparing 2 paper sessions', 'the comparison');
    expect($$('.compare thead th a').map((a) => a.getAttribute('href'))).toEqual(
      pf.sessions.map((s: { id: string }) => `#/sessions/${s.id}`),
    );
    const m = await api(`/api/forward-tests/${pf.sessions[0].id}/metrics`);
    const row = $$('.compare tbody tr').find((r) => r.querySelector('th')?.textContent === 'trades');
    expect(row?.querySelectorAll('td')[0]?.textContent).toBe(m.stats ? String(m.stats.trades) : '–');
    location.hash = '#/sessions';
    await until(() => $$('.paper-portfolios tbody tr').length === 1, 'the paper portfolios list again');
    location.hash = `#/paper-portfolios/${id}`;
    window.confirm = () => true;
    (await until(() => (legs().length === 2 ? button('Delete') : undefined), 'the page again')).click();
    await until(() => location.hash === '#/sessions', 'back on the list');
    expect(await api('/api/forward-tests/portfolios')).toEqual([]);
    expect((await api('/api/forward-tests')).length).toBe(1); // the earlier session is left
  });

  it('lists what was run with a strategy on its page: its backtests with the version each ran, its sweeps, its sessions', async () => {
    const latest = (await api('/api/backtests?limit=1'))[0];
    const sid = latest.strategyId as string;
    location.hash = `#/strategies/${sid}`;
    const runs = await until(() => $<HTMLDetailsElement>('details.strategy-runs'), 'the editor');
    runs.open = true;
    runs.dispatchEvent(new Event('toggle'));
    const [backtests, sweeps, sessions] = await Promise.all([
      api(`/api/backtests?strategyId=${sid}&limit=20`),
      api(`/api/backtests/sweeps?strategyId=${sid}&limit=10`),
      api(`/api/forward-tests?strategyId=${sid}&limit=20`),
    ]);
    expect(backtests.length).toBeGreaterThan(0);
    const tables = await until(() => {
      const t = $$('details.strategy-runs table');
      return t.length + $$('details.strategy-runs p.muted').length === 3 ? t : null;
    }, 'its runs');
    const links = (sel: string) => $$(`details.strategy-runs ${sel}`).map((a) => a.getAttribute('href'));
    expect(links('a[href^="#/backtests/"]')).toEqual(backtests.map((b: { id: string }) => `#/backtests/${b.id}`));
    expect(links('a[href^="#/sweeps/"]')).toEqual(sweeps.map((x: { sweepId: string }) => `#/sweeps/${x.sweepId}`));
    expect(links('a[href^="#/sessions/"]')).toEqual(sessions.map((x: { id: string }) => `#/sessions/${x.id}`));
    // the version each backtest ran
    const first = tables[0]!.querySelector('tbody tr')!;
    expect(first.querySelectorAll('td')[2]!.textContent).toBe(
      backtests[0].parameters.strategyVersion ? `v${backtests[0].parameters.strategyVersion}` : '',
    );
  });

  it('deletes a backtest and a session from their lists', async () => {
    window.confirm = () => true; // the user says yes
    location.hash = '#/backtests';
    const rows = await until(
      () => (text('main h1') === 'Backtests' && $$('.runs tbody tr').length ? $$('.runs tbody tr') : null),
      'the backtests',
    );
    const before = (await api('/api/backtests')).length;
    expect(rows.length).toBe(before);
    // the sweeps of this journey, each one line of their own, linking to its page
    const sweeps = await api('/api/backtests/sweeps');
    expect($$('.sweeps tbody tr a').map((a) => a.getAttribute('href'))).toEqual(
      sweeps.map((s: { sweepId: string }) => `#/sweeps/${s.sweepId}`),
    );
    expect(sweeps.length).toBeGreaterThanOrEqual(3);
    // the newest sweep's best point so far: its measure and its combination
    const best = sweeps[0].best;
    expect($$('.sweeps tbody tr')[0]!.querySelector('td:nth-child(8)')!.textContent).toBe(
      `${Number(best[sweeps[0].rankBy]).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} · ${Object.entries(
        best.combo,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    const id = rows[0]!.querySelector('a')!.getAttribute('href')!.split('/')[2]!;
    [...rows[0]!.querySelectorAll('button')].find((b) => b.textContent === 'Delete')!.click();
    await until(() => $$('.runs tbody tr').length === before - 1, 'the shorter list');
    expect((await api(`/api/backtests/${id}`)).error.code).toBe('NOT_FOUND');
    // two more ticked and deleted together
    const two = $$('.runs tbody tr').slice(0, 2);
    const twoIds = two.map((r) => r.querySelector('a')!.getAttribute('href')!.split('/')[2]!);
    for (const r of two) {
      const box = r.querySelector<HTMLInputElement>('input[type=checkbox]')!;
      box.checked = true;
      box.dispatchEvent(new Event('change'));
    }
    button('Delete selected')!.click();
    await until(() => $$('.runs tbody tr').length === before - 3, 'the list two shorter');
    for (const x of twoIds) expect((await api(`/api/backtests/${x}`)).error.code).toBe('NOT_FOUND');
    await until(() => $$('.toast').some((e) => e.textContent === 'Deleted: 2'), 'what was done');
    // the runs one filter keeps, on the page and as a file
    const kindOf = await until(() => $<HTMLSelectElement>('.filters select[name=kind]'), 'the filters');
    kindOf.value = 'walk-forward';
    kindOf.dispatchEvent(new Event('change'));
    const wfs = await api('/api/backtests?kind=walk-forward');
    expect(wfs.length).toBeGreaterThan(0);
    await until(() => $$('.runs tbody tr').length === wfs.length, 'the walk-forwards alone');
    const [file] = await downloads(() => button('CSV of these runs')!.click());
    expect(file!.name).toBe('backtests.csv');
    expect(
      file!.text
        .trimEnd()
        .split('\r\n')
        .slice(1)
        .map((l) => l.split(',')[0]),
    ).toEqual(wfs.map((w: { id: string }) => w.id));
    // the oldest sweep deleted from its line, with its backtests
    const last = sweeps.at(-1);
    const line = $$('.sweeps tbody tr').at(-1)!;
    [...line.querySelectorAll('button')].find((b) => b.textContent === 'Delete')!.click();
    await until(() => $$('.sweeps tbody tr').length === sweeps.length - 1, 'the shorter list of sweeps');
    expect((await api(`/api/backtests/sweeps/${last.sweepId}`)).error.code).toBe('NOT_FOUND');
    expect(
      (await api(`/api/backtests?kind=sweep`)).filter((x: { sweepId: string }) => x.sweepId === last.sweepId),
    ).toEqual([]);

    location.hash = '#/sessions';
    const del = await until(
      () =>
        text('main h1') === 'Paper trading'
          ? $$<HTMLButtonElement>('main tbody button').find((b) => b.textContent === 'Delete')
          : undefined,
      'the sessions',
    );
    del.click();
    await until(() => text('main p.muted:last-child') === 'No sessions yet.', 'the empty list');
    expect(await api('/api/forward-tests')).toEqual([]);
  });

  it('exports a strategy to a file and imports it back as a new one', async () => {
    location.hash = '#/strategies';
    await until(() => text('main h1') === 'Strategies' && $$('main tbody tr').length, 'the strategies');
    const before = await api('/api/strategies');
    const [file0] = await downloads(() =>
      [...$$('main tbody tr')[0]!.querySelectorAll('button')].find((b) => b.textContent === 'Export')!.click(),
    );
    const exported = JSON.parse(file0!.text);
    const first = before.find((s: { name: string }) => s.name === exported.name);
    expect(file0!.name).toMatch(/\.algotrade\.json$/);
    expect(exported.graph).toEqual(first.graph);
    // the same file, chosen in the import card
    const input = $<HTMLInputElement>('main input[type=file]')!;
    const file = new File([JSON.stringify({ ...exported, name: 'imported copy' })], 'copy.algotrade.json');
    Object.defineProperty(input, 'files', { value: [file], configurable: true });
    input.dispatchEvent(new Event('change'));
    await until(() => /^#\/strategies\/[0-9a-f-]{36}$/.test(location.hash), 'the imported strategy in the editor');
    const copy = await api(`/api/strategies/${location.hash.split('/')[2]}`);
    expect(copy.name).toBe('imported copy');
    expect(copy.graph.nodes.map((n: { id: string; type: string; data: unknown }) => [n.id, n.type, n.data])).toEqual(
      first.graph.nodes.map((n: { id: string; type: string; data: unknown }) => [n.id, n.type, n.data]),
    );
    expect(copy.compilationReport.ok).toBe(first.compilationReport.ok);
  });

  it('makes a read-only API token on the account page, uses it from a script, and revokes it', async () => {
    $<HTMLAnchorElement>('#who a')!.click();
    const form = await until(
      () => (text('main h1') === 'Account' && $<HTMLFormElement>('main form.inline')) || undefined,
      'the account page',
    );
    type(form.querySelector<HTMLInputElement>('input[name=name]'), 'dashboard');
    type(form.querySelector<HTMLSelectElement>('select[name=scope]'), 'read');
    form.requestSubmit();
    const token = await until(() => $('main .secret code')?.textContent, 'the token, shown once');
    expect(token).toMatch(/^atk_/);
    expect(text('main tbody tr')).toContain('read only');
    // a script with the token: it reads, and may not write
    const script = (method: string, path: string) =>
      fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await script('GET', '/api/strategies')).toBe(200);
    expect(await script('POST', '/api/strategies/templates/sma-crossover')).toBe(403);
    window.confirm = () => true;
    [...$$('main tbody tr')[0]!.querySelectorAll('button')].find((b) => b.textContent === 'Revoke')!.click();
    await until(() => text('main p.muted:last-of-type') !== '' && !$$('main tbody tr').length, 'the token gone');
    expect(await script('GET', '/api/strategies')).toBe(401);
  });

  /** A graph that buys while the close is above node `b`'s output `out`, laid out left to right. */
  const buyAbove = (b: { id: string; type: string; data: object }, out: string) => ({
    version: 1,
    nodes: [
      { id: 'close', type: 'price.close', data: {}, position: { x: 40, y: 40 } },
      { ...b, position: { x: 40, y: 190 } },
      { id: 'up', type: 'logic.greater', data: {}, position: { x: 280, y: 40 } },
      { id: 'buy', type: 'action.buy', data: {}, position: { x: 520, y: 40 } },
    ],
    edges: [
      { id: 'e1', source: 'close', sourceHandle: 'value', target: 'up', targetHandle: 'a' },
      { id: 'e2', source: b.id, sourceHandle: out, target: 'up', targetHandle: 'b' },
      { id: 'e3', source: 'up', sourceHandle: 'value', target: 'buy', targetHandle: 'trigger' },
    ],
  });

  it("sets an alert on a strategy's signal, which pops up on its first buy without a session", async () => {
    // a strategy that buys while the price is above 0 and it is not long: its first live tick signals
    const s = await api('/api/strategies', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'always in',
        graph: gatedBy(buyAbove({ id: 'zero', type: 'constant', data: { value: 0 } }, 'value'), 'buy', 'long', false),
      }),
    });
    location.hash = '#/alerts';
    const form = await until(
      () => $$<HTMLFormElement>('main form.inline').find((f) => f.querySelector('select[name=strategyId]')),
      'the alert form',
    );
    type(form.querySelector<HTMLSelectElement>('select[name=kind]'), 'strategy_signal');
    type(form.querySelector<HTMLSelectElement>('select[name=strategyId]'), s.id);
    type(form.querySelector<HTMLInputElement>('input[name=symbol]'), 'btcusd');
    const sessions = (await api('/api/forward-tests')).length;
    form.requestSubmit();
    const toast = await until(
      () => $$('.toast').find((t) => t.textContent?.startsWith('Alert: always in on BTCUSD: buy signal at ')),
      'the strategy alert to pop up',
      30_000,
    );
    const alert = (await api('/api/alerts')).find((x: { kind: string }) => x.kind === 'strategy_signal');
    expect(alert).toMatchObject({
      symbol: 'BTCUSD',
      status: 'triggered',
      params: { strategyId: s.id, name: 'always in' },
    });
    expect(toast.textContent).toBe(`Alert: ${alert.message}`);
    expect((await api('/api/forward-tests')).length).toBe(sessions);
    // the list (drawn again) shows the position its signal made: long one unit from the price it fired at
    location.hash = '#/strategies';
    location.hash = '#/alerts';
    const row = await until(
      () =>
        $$('main tbody tr').find(
          (r) => r.textContent?.includes('always in · BTCUSD') && r.textContent.includes('long'),
        ),
      'it in the list',
    );
    const { qty, entryPrice } = alert.params.position;
    expect([qty, `${alert.symbol}: buy signal at ${entryPrice}`]).toEqual([1, alert.message.split(' on ')[1]]);
    const price = entryPrice.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    expect(row.textContent).toContain(`long 1.00 from ${price}`);
  });

  it("sets an Other symbol node's symbol in the inspector, checked as typed", async () => {
    const s = await api('/api/strategies', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'above ETH',
        graph: buyAbove({ id: 'other', type: 'symbol.bar', data: { symbol: 'ETHUSD' } }, 'close'),
      }),
    });
    location.hash = `#/strategies/${s.id}`;
    const node = await until(() => $<HTMLElement>('.node[data-node="other"]'), 'the editor');
    expect(text('.node[data-node="other"] .node-params')).toBe('symbol ETHUSD');
    node.click();
    const input = await until(() => $<HTMLInputElement>('.inspector input[type=text]'), 'the inspector');
    expect(input.value).toBe('ETHUSD');
    type(input, 'ETH USD');
    expect(text('.inspector small.bad')).toBe('must be a symbol such as ETHUSD');
    type($<HTMLInputElement>('.inspector input[type=text]')!, 'solusd');
    expect(text('.node[data-node="other"] .node-params')).toBe('symbol SOLUSD');
    button('Save')!.click();
    await until(() => text('.status-line').startsWith('saved'), 'the save');
    const stored = await api(`/api/strategies/${s.id}`);
    expect(stored.graph.nodes.find((n: { id: string }) => n.id === 'other').data).toEqual({ symbol: 'SOLUSD' });
    expect(stored.compilationReport.ok).toBe(true);
  });

  /**
   * A paper session on BTCUSD's simulated ticks of a strategy that always wants to buy (its buy node's
   * data as given, and risk nodes), its page open; `tile(label)` reads a figure there.
   */
  async function alwaysBuying(buy: object, risk: { id: string; type: string; data: object }[] = []) {
    const at = { x: 0, y: 0 };
    const graph = {
      version: 1,
      nodes: [
        { id: 'close', type: 'price.close', data: {}, position: at },
        { id: 'zero', type: 'constant', data: { value: 0 }, position: at },
        { id: 'up', type: 'logic.greater', data: {}, position: at },
        { id: 'buy', type: 'action.buy', data: buy, position: at },
        ...risk.map((r) => ({ ...r, position: at })),
      ],
      edges: [
        { id: 'e1', source: 'close', sourceHandle: 'value', target: 'up', targetHandle: 'a' },
        { id: 'e2', source: 'zero', sourceHandle: 'value', target: 'up', targetHandle: 'b' },
        { id: 'e3', source: 'up', sourceHandle: 'value', target: 'buy', targetHandle: 'trigger' },
      ],
    };
    const json = { 'content-type': 'application/json' };
    const strat = await api('/api/strategies', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'always buying', graph }),
    });
    const session = await api('/api/forward-tests', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ strategyId: strat.id, symbol: 'BTCUSD' }),
    });
    location.hash = `#/sessions/${session.id}`;
    const tile = (k: string) =>
      $$('.figure')
        .find((f) => f.querySelector('small')?.textContent === k)
        ?.querySelector('strong')?.textContent;
    /** deletes the session (its answer has no body, so not through api) */
    const remove = () =>
      fetch(`${base}/api/forward-tests/${session.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${JSON.parse(localStorage.getItem('algotrade.session')!).accessToken}` },
      });
    return { session, tile, remove };
  }

  it("shows a paper session's stop loss and take profit levels on its page", async () => {
    // 20 % either way: the simulated ticks do not reach them while the page is read
    const { session, tile, remove } = await alwaysBuying({}, [
      { id: 'sl', type: 'risk.stop_loss', data: { percent: 20 } },
      { id: 'tp', type: 'risk.take_profit', data: { percent: 20 } },
    ]);
    await until(() => tile('Stop loss at') && tile('Take profit at'), 'the levels');
    const view = await api(`/api/forward-tests/${session.id}`);
    expect(view.position.stopLoss).toBeCloseTo(view.position.avgPrice * 0.8, 6);
    expect(view.position.takeProfit).toBeCloseTo(view.position.avgPrice * 1.2, 6);
    const shown = (k: string) => Number(tile(k)!.replace(/[^0-9.]/g, ''));
    expect(shown('Stop loss at') / view.position.stopLoss).toBeCloseTo(1, 3);
    expect(shown('Take profit at') / view.position.takeProfit).toBeCloseTo(1, 3);
    expect(tile('Trailing stop at')).toBeUndefined();
    await remove();
  });

  it("shows a take-profit ladder's next step on a paper session's page", async () => {
    // steps 25 % and 35 % up: the simulated ticks do not reach them while the page is read (and the page
    // before this one showed a take profit 20 % up: not this one's)
    const { session, tile, remove } = await alwaysBuying({}, [
      { id: 'lad', type: 'risk.take_profit_ladder', data: { pct1: 25, share1: 50, pct2: 35, share2: 50, share3: 0 } },
    ]);
    // the position opened
    const view = await until(async () => {
      const v = await api(`/api/forward-tests/${session.id}`);
      return v.position ? v : undefined;
    }, 'the position');
    expect(view.position.takeProfit).toBeCloseTo(view.position.avgPrice * 1.25, 6);
    expect(view.position.targetsTaken).toBe(0);
    const shown = () => Number(tile('Take profit at')?.replace(/[^0-9.]/g, ''));
    await until(() => Math.abs(shown() / view.position.takeProfit - 1) < 1e-3, "the first step's level");
    // none taken yet: no count shown
    expect(tile('Take-profit steps taken')).toBeUndefined();
    await remove();
  });

  it("shows a cooldown's run of exits on a paper session's page, then the cooldown it starts", async () => {
    // held 3 s at most, then out; a cooldown of an hour after two such exits in a row
    const { session, tile, remove } = await alwaysBuying({}, [
      { id: 'hold', type: 'risk.time_exit', data: { minutes: 0.05 } },
      { id: 'cool', type: 'risk.cooldown', data: { minutes: 60, after: 'any', count: 2 } },
    ]);
    await until(() => tile('Exits counted toward the cooldown') === '1', 'the first exit of the run', 30_000);
    expect(tile('No new position until')).toBeUndefined();
    await until(() => tile('No new position until'), 'the cooldown', 30_000);
    const view = await api(`/api/forward-tests/${session.id}`);
    // the run ended with the cooldown it started: an hour from the second exit, no position since
    expect(view.cooldownRun).toBe(0);
    expect(view.position).toBeNull();
    const trades = await api(`/api/forward-tests/${session.id}/trades`);
    expect(trades.map((t: { source: string }) => t.source)).toEqual(['buy', 'time_exit', 'buy', 'time_exit']);
    expect(Date.parse(view.cooldownUntil) - Date.parse(trades[3].ts)).toBe(3_600_000);
    expect(tile('Exits counted toward the cooldown')).toBeUndefined();
    await remove();
  });

  it("shows a paper session's resting limit order on its page", async () => {
    // a strategy that always wants to buy, by a limit order 20 % under the price: it rests, never filled
    const { session, tile, remove } = await alwaysBuying({ orderType: 'limit', offsetPct: 20 });
    await until(() => tile('Resting order')?.startsWith('buy limit @ '), 'the resting order');
    const view = await api(`/api/forward-tests/${session.id}`);
    expect(view.restingOrder).toMatchObject({ nodeId: 'buy', action: 'buy', orderType: 'limit' });
    expect(view.position).toBeNull();
    expect(tile('Position')).toBe('flat');
    await remove();
  });

  it('signs out, and the page forgets the session', async () => {
    button('Sign out')!.click();
    await until(() => location.hash === '#/login' && $('#login-form'), 'the sign-in form');
    expect(localStorage.getItem('algotrade.session')).toBeNull();
    expect(pageErrors).toEqual([]);
  });
});
