// @ts-check
/**
 * The page: sign-in, a hash router, and the views that are mostly lists (markets, strategies,
 * alerts). The strategy editor is editor.js; backtests and paper-trading sessions are runs.js.
 * Everything goes through the public HTTP API and the `/ws` socket, as any other client would.
 */
import { ApiError, createApi, storageSession } from './api.js';
import { lineChart } from './chart.js';
import { attempt, fields, h, intervalSelect, num, progressBar, saveFile, svgBox, table, toast, when } from './dom.js';
import { editorView } from './editor.js';
import { emptyGraph, strategyFromFile } from './graph-model.js';
import { createLive } from './live.js';
import {
  backtestView,
  backtestsView,
  compareSessionsView,
  compareView,
  paperPortfolioView,
  sessionView,
  sessionsView,
  sweepView,
} from './runs.js';
import { webhooksSection } from './webhooks.js';
import { accountView } from './account.js';

/**
 * @typedef {{ api: import('./api.js').Api, live: ReturnType<typeof createLive>, go: (hash: string) => void,
 *   onLeave: (fn: () => void) => void }} Ctx
 */

const session = storageSession(localStorage);
const api = createApi({ session, onSignedOut: () => go('#/login') });
const live = createLive({
  url: () => api.socketUrl(location.origin),
  onState: (s) => {
    const el = document.getElementById('live-state');
    if (el) {
      el.className = `live-state live-${s}`;
      el.title = `live updates: ${s}`;
    }
  },
});

/** @type {(() => void)[]} */
let leaving = [];
/** @param {string} hash */
function go(hash) {
  if (location.hash === hash) void render();
  else location.hash = hash;
}
/** @type {Ctx} */
const ctx = { api, live, go, onLeave: (fn) => leaving.push(fn) };

/** @type {[RegExp, (ctx: Ctx, ...params: string[]) => Promise<HTMLElement> | HTMLElement][]} */
const routes = [
  [/^#\/login$/, loginView],
  [/^#\/?$/, marketsView],
  [/^#\/markets\/([^/]+)$/, marketView],
  [/^#\/strategies$/, strategiesView],
  [/^#\/strategies\/([^/]+)$/, editorView],
  [/^#\/backtests$/, backtestsView],
  [/^#\/backtests\/([^/]+)$/, backtestView],
  [/^#\/sweeps\/([^/]+)$/, sweepView],
  [/^#\/compare\/([^/]+)$/, compareView],
  [/^#\/compare-sessions\/([^/]+)$/, compareSessionsView],
  [/^#\/sessions$/, sessionsView],
  [/^#\/sessions\/([^/]+)$/, sessionView],
  [/^#\/paper-portfolios\/([^/]+)$/, paperPortfolioView],
  [/^#\/alerts$/, alertsView],
  [/^#\/account$/, (c) => accountView(c, session.get()?.email ?? '')],
];

/** Each render's number: a page that finishes loading after the user went on to another is not shown. */
let rendering = 0;

async function render() {
  const mine = ++rendering;
  for (const fn of leaving) fn();
  leaving = [];
  const view = /** @type {HTMLElement} */ (document.getElementById('view'));
  const hash = location.hash || '#/';
  if (!api.signedIn() && hash !== '#/login') return go('#/login');
  const nav = document.getElementById('nav');
  if (nav) nav.hidden = !api.signedIn();
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle(
      'active',
      hash === a.getAttribute('href') ||
        (a.getAttribute('href') !== '#/' && hash.startsWith(`${a.getAttribute('href')}/`)),
    );
  const who = /** @type {HTMLElement} */ (document.getElementById('who'));
  who.replaceChildren();
  if (api.signedIn()) {
    who.append(
      h('a', { href: '#/account', title: 'account and API tokens' }, session.get()?.email ?? ''),
      ' ',
      h(
        'button',
        { class: 'link', onclick: () => void api.logout().then(() => (live.stop(), go('#/login'))) },
        'Sign out',
      ),
    );
    live.start();
  }
  const match = routes.map(([re, fn]) => /** @type {const} */ ([re.exec(hash), fn])).find(([m]) => m);
  if (!match) {
    view.replaceChildren(h('p', null, 'No such page. ', h('a', { href: '#/' }, 'Markets')));
    return;
  }
  const [m, fn] = match;
  if (!m) return;
  try {
    const el = await fn(ctx, ...m.slice(1).map(decodeURIComponent));
    if (mine === rendering) view.replaceChildren(el);
  } catch (e) {
    if (mine === rendering) view.replaceChildren(errorBox(e));
  }
}

/** @param {unknown} e */
function errorBox(e) {
  if (e instanceof ApiError && e.status === 401) {
    setTimeout(() => go('#/login'));
    return h('p', null, 'Signed out.');
  }
  return h('div', { class: 'error-box', role: 'alert' }, e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
}

/** @param {Ctx} c */
function loginView(c) {
  const msg = h('p', { class: 'error-line', role: 'alert' });
  /** @param {'login' | 'register'} how */
  const submit = (how) => async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const form = /** @type {HTMLFormElement} */ (document.getElementById('login-form'));
    const f = fields(form);
    msg.textContent = '';
    try {
      await c.api[how](f.email ?? '', f.password ?? '');
      c.go('#/');
    } catch (e) {
      msg.textContent = e instanceof ApiError ? e.message : String(e);
    }
  };
  return h(
    'section',
    { class: 'narrow' },
    h('h1', null, 'Sign in'),
    h(
      'form',
      { id: 'login-form', onsubmit: submit('login') },
      h('label', null, 'Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username' })),
      h(
        'label',
        null,
        'Password',
        h('input', {
          name: 'password',
          type: 'password',
          required: true,
          minlength: 8,
          autocomplete: 'current-password',
        }),
      ),
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'submit' }, 'Sign in'),
        h('button', { type: 'button', class: 'secondary', onclick: submit('register') }, 'Create account'),
      ),
      msg,
    ),
    h(
      'p',
      { class: 'muted' },
      'New here? Type an email and a password of 8 characters or more, then "Create account".',
    ),
  );
}

/** @param {Ctx} c */
async function marketsView(c) {
  const symbols = /** @type {any[]} */ (await c.api.get('/api/market/symbols'));
  /** @type {Map<string, HTMLElement>} */
  const cells = new Map();
  for (const s of symbols) {
    const cell = h('span', { class: 'price' }, '–');
    cells.set(s.symbol, cell);
    c.onLeave(c.live.on(`prices:${s.symbol}`, (e) => (cell.textContent = num(e.data?.price, 4))));
  }
  for (const s of symbols)
    void c.api.get(`/api/market/symbols/${encodeURIComponent(s.symbol)}`).then(
      (d) => {
        const cell = cells.get(s.symbol);
        if (cell && cell.textContent === '–') cell.textContent = num(d.lastPrice, 4);
      },
      () => {},
    );
  return h(
    'section',
    null,
    h('h1', null, 'Markets'),
    h('p', { class: 'muted' }, 'Prices update live. Open a symbol for its recent ticks and candles.'),
    table(
      [
        ['Symbol', (s) => h('a', { href: `#/markets/${encodeURIComponent(s.symbol)}` }, s.symbol)],
        ['Class', (s) => s.assetClass ?? ''],
        ['Provider', (s) => s.provider ?? ''],
        ['Last', (s) => cells.get(s.symbol)],
        ['Feed', (s) => (s.active ? 'live' : '')],
      ],
      symbols,
      'No symbols yet: start with the simulated feed, or import history.',
    ),
    importForm(c),
    await downloadForm(c),
  );
}

/**
 * An exchange's candle history through the API's CCXT download: it runs in the background, and each
 * job's progress comes as `history.download` events on the user's channel.
 * @param {Ctx} c
 */
async function downloadForm(c) {
  const list = h('div');
  const draw = async () => {
    const jobs = /** @type {any[]} */ ((await attempt(() => c.api.get('/api/market/history/downloads'))) ?? []);
    list.replaceChildren(
      table(
        [
          ['Exchange', (j) => j.exchange],
          ['Market', (j) => `${j.market} → ${j.symbol}`],
          ['Timeframe', (j) => j.timeframe],
          ['Status', (j) => (j.status === 'running' ? progressBar(j.progress ?? 0) : j.status)],
          ['Stored', (j) => String(j.stored ?? 0)],
          ['Malformed', (j) => String(j.malformed ?? 0)],
          ['Error', (j) => j.error ?? ''],
        ],
        jobs,
        'No downloads yet.',
      ),
    );
  };
  c.onLeave(c.live.on('user', (e) => e.type === 'history.download' && void draw()));
  const submit = async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const f = fields(/** @type {HTMLFormElement} */ (ev.target));
    /** @type {Record<string, string>} */
    const body = {
      exchange: (f.exchange ?? '').trim(),
      market: (f.market ?? '').trim(),
      timeframe: f.timeframe ?? '1m',
      since: (f.since ?? '').trim(),
    };
    if (f.until?.trim()) body.until = f.until.trim();
    if (f.symbol?.trim()) body.symbol = f.symbol.trim().toUpperCase();
    if (await attempt(() => c.api.post('/api/market/history/download', body))) await draw();
  };
  await draw();
  return h(
    'div',
    null,
    h('h2', null, 'Download from an exchange'),
    h(
      'form',
      { class: 'inline', id: 'download-form', onsubmit: submit },
      h('input', { name: 'exchange', value: 'coinbaseexchange', 'aria-label': 'CCXT exchange id', list: 'exchanges' }),
      h(
        'datalist',
        { id: 'exchanges' },
        ['coinbaseexchange', 'binance', 'kraken', 'bitstamp', 'bitfinex'].map((x) => h('option', { value: x })),
      ),
      h('input', { name: 'market', value: 'BTC/USD', 'aria-label': 'market' }),
      h('input', { name: 'symbol', placeholder: 'store as (optional)' }),
      intervalSelect('timeframe', '1m'),
      h('input', { name: 'since', placeholder: 'since: 2024-01-01 or an ISO time', required: true }),
      h('input', { name: 'until', placeholder: 'until (optional)' }),
      h('button', { type: 'submit' }, 'Download'),
    ),
    list,
  );
}

/**
 * History from a CSV file (a header row; a time column, then open/high/low/close/volume in any order):
 * the API's import, with its report of rows it skipped and why.
 * @param {Ctx} c
 */
function importForm(c) {
  const report = h('div', { class: 'import-report' });
  const submit = async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const form = /** @type {HTMLFormElement} */ (ev.target);
    const f = fields(form);
    const file = /** @type {HTMLInputElement} */ (form.querySelector('input[type=file]')).files?.[0];
    if (!file) return toast('Choose a CSV file first.', 'error');
    const symbol = (f.symbol ?? '').trim().toUpperCase();
    const q = `symbol=${encodeURIComponent(symbol)}&interval=${encodeURIComponent(f.interval ?? '1d')}`;
    report.textContent = `Importing ${file.name}…`;
    const r = await attempt(async () =>
      c.api.request('POST', `/api/market/history/import?${q}`, await file.text(), { contentType: 'text/csv' }),
    );
    if (!r) return void (report.textContent = '');
    report.replaceChildren(
      h('p', null, `${r.symbol} ${r.interval}: ${r.imported} candles imported, ${r.skipped} rows skipped.`),
      r.errors?.length
        ? h(
            'ul',
            null,
            r.errors
              .slice(0, 10)
              .map((/** @type {any} */ e) => h('li', { class: 'bad' }, `line ${e.line}: ${e.message}`)),
          )
        : '',
      h('a', { href: `#/markets/${encodeURIComponent(r.symbol)}` }, `Open ${r.symbol}`),
    );
  };
  return h(
    'div',
    null,
    h('h2', null, 'Import history'),
    h(
      'form',
      { class: 'inline', id: 'import-form', onsubmit: submit },
      h('input', {
        name: 'symbol',
        placeholder: 'symbol, e.g. GOOG',
        required: true,
        pattern: '[A-Za-z0-9._:\\-]{1,40}',
      }),
      intervalSelect('interval', '1d'),
      h('input', { type: 'file', name: 'file', accept: '.csv,text/csv' }),
      h('button', { type: 'submit' }, 'Import'),
    ),
    report,
  );
}

/** @param {Ctx} c @param {string} symbol */
async function marketView(c, symbol) {
  const enc = encodeURIComponent(symbol);
  const [info, latest] = await Promise.all([
    c.api.get(`/api/market/symbols/${enc}`),
    c.api.get(`/api/market/symbols/${enc}/latest?limit=300`),
  ]);
  const ticks = /** @type {{ ts: string, price: number }[]} */ (latest.ticks).slice().reverse();
  const box = h('div');
  const last = h('span', { class: 'big' }, num(info.lastPrice, 4));
  const draw = () =>
    box.replaceChildren(
      svgBox(
        lineChart({
          title: `${symbol}: last ${ticks.length} ticks`,
          series: [{ values: ticks.map((t) => t.price), color: '#2563eb', label: 'price' }],
          times: ticks.length ? [when(ticks[0]?.ts), when(ticks[ticks.length - 1]?.ts)] : [],
        }),
      ),
    );
  draw();
  let pending = false;
  c.onLeave(
    c.live.on(`prices:${symbol}`, (e) => {
      ticks.push({ ts: e.data.ts ?? e.ts, price: e.data.price });
      if (ticks.length > 300) ticks.shift();
      last.textContent = num(e.data.price, 4);
      if (!pending) {
        pending = true;
        requestAnimationFrame(() => ((pending = false), draw()));
      }
    }),
  );
  const candleBox = h('div');
  let shown = '1m';
  const loadCandles = async (/** @type {string} */ interval) => {
    shown = interval;
    const candles =
      /** @type {any[]} */ (
        await attempt(() => c.api.get(`/api/market/symbols/${enc}/candles?interval=${interval}&limit=300`))
      ) ?? [];
    candleBox.replaceChildren(
      svgBox(
        lineChart({
          title: `${interval} closes (${candles.length})`,
          series: [{ values: candles.map((k) => k.close), color: '#0f766e', label: 'close' }],
          times: candles.length ? [when(candles[0].ts), when(candles[candles.length - 1].ts)] : [],
        }),
      ),
    );
  };
  void loadCandles('1m');
  return h(
    'section',
    null,
    h('h1', null, symbol, ' ', last),
    h(
      'p',
      { class: 'muted' },
      `${info.assetClass ?? ''} · window ${info.windowSize ?? '–'} ticks · updated ${when(info.updatedAt)}`,
    ),
    box,
    h(
      'div',
      { class: 'row' },
      'Candles: ',
      ['1m', '5m', '1h', '1d'].map((i) => h('button', { class: 'secondary', onclick: () => void loadCandles(i) }, i)),
      // the shown interval's stored history as a file, which the CSV import reads back
      h(
        'button',
        {
          class: 'link',
          title: "download the shown interval's candles (up to 100,000) as CSV",
          onclick: async () => {
            const path = `/api/market/symbols/${enc}/candles?interval=${shown}&limit=100000&format=csv`;
            const text = await attempt(() => c.api.request('GET', path, undefined, { text: true }));
            if (text !== undefined) saveFile(String(text), `${symbol}-${shown}.csv`, 'text/csv');
          },
        },
        'CSV',
      ),
    ),
    candleBox,
  );
}

/** @param {Ctx} c */
async function strategiesView(c) {
  const [list, templates] = /** @type {[any[], any[]]} */ (
    await Promise.all([c.api.get('/api/strategies'), c.api.get('/api/strategies/templates')])
  );
  const fromTemplate = (/** @type {string} */ id) => async () => {
    const s = await attempt(() => c.api.post(`/api/strategies/templates/${encodeURIComponent(id)}`));
    if (s) c.go(`#/strategies/${s.id}`);
  };
  const blank = async () => {
    const s = await attempt(() => c.api.post('/api/strategies', { name: 'New strategy', graph: emptyGraph() }));
    if (s) c.go(`#/strategies/${s.id}`);
  };
  const remove = (/** @type {any} */ s) => async () => {
    if (!confirm(`Delete "${s.name}"?`)) return;
    if ((await attempt(() => c.api.del(`/api/strategies/${s.id}`))) !== undefined) c.go('#/strategies');
  };
  // a strategy as a file: {name, description, graph}, what the import below and `algotrade backtest
  // --strategy file.json` read
  const exportOne = (/** @type {any} */ s) => () =>
    saveFile(
      `${JSON.stringify({ name: s.name, description: s.description ?? undefined, graph: s.graph }, null, 2)}\n`,
      `${String(s.name).replace(/[^\w.-]+/g, '-')}.algotrade.json`,
      'application/json',
    );
  const importFile = async (/** @type {Event} */ ev) => {
    const input = /** @type {HTMLInputElement} */ (ev.target);
    const file = input.files?.[0];
    if (!file) return;
    const s = await attempt(async () => {
      const body = strategyFromFile(await file.text(), file.name);
      return c.api.post('/api/strategies', body);
    });
    input.value = '';
    if (s) c.go(`#/strategies/${s.id}`);
  };
  return h(
    'section',
    null,
    h('h1', null, 'Strategies'),
    table(
      [
        ['Name', (s) => h('a', { href: `#/strategies/${s.id}` }, s.name)],
        ['Nodes', (s) => String(s.graph?.nodes?.length ?? 0)],
        [
          'Compiles',
          (s) =>
            s.compilationReport?.ok
              ? 'yes'
              : h('span', { class: 'bad' }, `no (${s.compilationReport?.errors?.length ?? '?'} errors)`),
        ],
        ['Updated', (s) => when(s.updatedAt)],
        [
          '',
          (s) => [
            h('button', { class: 'link', onclick: exportOne(s) }, 'Export'),
            h('button', { class: 'link danger', onclick: remove(s) }, 'Delete'),
          ],
        ],
      ],
      list,
      'No strategies yet: start from a template below.',
    ),
    h('h2', null, 'New strategy'),
    h(
      'div',
      { class: 'cards' },
      templates.map((t) =>
        h(
          'div',
          { class: 'card' },
          h('h3', null, t.name),
          h('p', null, t.description),
          h('button', { onclick: fromTemplate(t.id) }, 'Use this template'),
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h('h3', null, 'Blank'),
        h('p', null, 'An empty canvas: add nodes from the palette.'),
        h('button', { onclick: blank }, 'Start blank'),
      ),
      h(
        'div',
        { class: 'card' },
        h('h3', null, 'From a file'),
        h('p', null, 'A strategy exported here (or a bare graph as JSON).'),
        h('input', {
          type: 'file',
          accept: '.json,application/json',
          'aria-label': 'strategy file',
          onchange: importFile,
        }),
      ),
    ),
  );
}

/** @param {Ctx} c */
async function alertsView(c) {
  const [alerts, sessions, strategies, hooks] = /** @type {[any[], any[], any[], HTMLElement]} */ (
    await Promise.all([
      c.api.get('/api/alerts'),
      c.api.get('/api/forward-tests'),
      c.api.get('/api/strategies'),
      webhooksSection(c),
    ])
  );
  const create = async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const f = fields(/** @type {HTMLFormElement} */ (ev.target));
    const body =
      f.kind === 'session_drawdown'
        ? { kind: f.kind, sessionId: f.sessionId, drawdownPct: Number(f.value) }
        : f.kind === 'session_status'
          ? {
              kind: f.kind,
              sessionId: f.sessionId,
              // on its end only (stopped or failed), or on a pause too
              statuses: f.statuses === 'paused' ? ['paused', 'stopped', 'failed'] : ['stopped', 'failed'],
            }
          : f.kind === 'strategy_signal'
            ? { kind: f.kind, strategyId: f.strategyId, symbol: (f.symbol ?? '').toUpperCase() }
            : { kind: f.kind, symbol: (f.symbol ?? '').toUpperCase(), price: Number(f.value) };
    if (f.note) Object.assign(body, { note: f.note });
    // price and strategy alerts may fire again: on each new crossing, or each change of signal; a
    // session's status alert on each pause
    if (f.repeat === 'every' && f.kind !== 'session_drawdown')
      Object.assign(body, { repeat: 'every', ...(f.cooldown ? { cooldownSeconds: Number(f.cooldown) } : {}) });
    if (await attempt(() => c.api.post('/api/alerts', body))) c.go('#/alerts');
  };
  return h(
    'section',
    null,
    h('h1', null, 'Alerts'),
    h(
      'p',
      { class: 'muted' },
      'An alert fires once, or for price, strategy and session status alerts every time (each new crossing of the level, each change of signal, each pause), ' +
        'at most once per cooldown. It also pops up here while the page is open.',
    ),
    table(
      [
        ['Kind', (a) => a.kind],
        ['On', (a) => (a.params?.name ? `${a.params.name} · ${a.symbol}` : (a.symbol ?? a.sessionId ?? ''))],
        ['Level', (a) => a.params?.price ?? a.params?.drawdownPct ?? ''],
        // a strategy alert reading its position: the one its signals hold now
        [
          'Position',
          (a) =>
            a.params?.position?.qty > 0
              ? `long ${num(a.params.position.qty, 2)} from ${num(a.params.position.entryPrice, 2)}`
              : a.params?.position
                ? 'flat'
                : '',
        ],
        [
          'Repeats',
          (a) =>
            a.params?.repeat === 'every'
              ? `every time${a.params.cooldownSeconds ? `, ${a.params.cooldownSeconds} s apart` : ''}`
              : 'once',
        ],
        ['Status', (a) => a.status],
        ['Fired', (a) => a.triggerCount ?? 0],
        ['Message', (a) => a.message ?? a.note ?? ''],
        [
          '',
          (a) =>
            h(
              'button',
              {
                class: 'link danger',
                onclick: async () =>
                  (await attempt(() => c.api.del(`/api/alerts/${a.id}`))) !== undefined && c.go('#/alerts'),
              },
              'Delete',
            ),
        ],
      ],
      alerts,
      'No alerts.',
    ),
    h('h2', null, 'New alert'),
    h(
      'form',
      { class: 'inline', onsubmit: create },
      h(
        'select',
        { name: 'kind' },
        ['price_above', 'price_below', 'session_drawdown', 'session_status', 'strategy_signal'].map((k) =>
          h('option', { value: k }, k.replace('_', ' ')),
        ),
      ),
      h('input', { name: 'symbol', placeholder: 'symbol (price and strategy alerts)' }),
      h(
        'select',
        { name: 'strategyId', title: "a strategy signal alert fires on the strategy's first buy, sell or close" },
        h('option', { value: '' }, 'strategy (strategy alerts)'),
        strategies.map((s) => h('option', { value: s.id }, s.name)),
      ),
      h(
        'select',
        { name: 'sessionId' },
        h('option', { value: '' }, 'session (session alerts)'),
        sessions.map((s) => h('option', { value: s.id }, `${s.name ?? s.id.slice(0, 8)} · ${s.symbol}`)),
      ),
      h('input', { name: 'value', placeholder: 'price or drawdown %', inputmode: 'decimal' }),
      h(
        'select',
        { name: 'statuses', title: 'a session status alert fires when the session ends, or on each pause too' },
        h('option', { value: 'end' }, 'when it ends'),
        h('option', { value: 'paused' }, 'when it pauses or ends'),
      ),
      h(
        'select',
        { name: 'repeat', title: 'price, strategy and session status alerts can fire again' },
        h('option', { value: 'once' }, 'once'),
        h('option', { value: 'every' }, 'every time'),
      ),
      h('input', {
        name: 'cooldown',
        placeholder: 'cooldown s (every time)',
        inputmode: 'numeric',
        title: 'at least this many seconds between two firings',
      }),
      h('input', { name: 'note', placeholder: 'note (optional)' }),
      h('button', { type: 'submit' }, 'Create'),
    ),
    hooks,
  );
}

live.on('user', (e) => {
  if (e.type === 'alert') toast(`Alert: ${e.data?.message ?? e.data?.kind}`);
});
window.addEventListener('hashchange', () => void render());
void render();
