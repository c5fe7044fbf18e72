// @ts-check
/**
 * The strategy editor: a canvas of nodes (drag by the title), wires drawn from an output port to an
 * input port, a palette from `GET /api/strategies/node-types`, a parameter form built from each
 * type's JSON Schema, the compiler's errors drawn on their nodes, undo, save, a preview of the graph's
 * signals and any node's values on a symbol's candles, and buttons that start a backtest or a paper
 * session from the saved graph. Graph edits are graph-model.js's pure functions.
 */
import { lineChart } from './chart.js';
import { checkView } from './check.js';
import { runBody } from './run-settings.js';
import { attempt, fields, h, intervalSelect, MEASURES, svgBox, table, toast, when } from './dom.js';
import {
  emptyGraph,
  graphDiff,
  layoutMissing,
  matchesQuery,
  parseSweep,
  suggestSweep,
  addNode,
  connect,
  errorsByNode,
  moveNode,
  readParam,
  removeEdge,
  removeNode,
  setParam,
  typeMap,
} from './graph-model.js';

const NODE_W = 176;
const HEAD_H = 28;
const PORT_H = 20;
const CANVAS_W = 2400;
const CANVAS_H = 1400;

/** Where a port's dot is on the canvas. @param {any} node @param {number} index @param {'in' | 'out'} side */
function portXY(node, index, side) {
  return {
    x: node.position.x + (side === 'out' ? NODE_W : 0),
    y: node.position.y + HEAD_H + index * PORT_H + PORT_H / 2,
  };
}

/** @param {import('./app.js').Ctx} c @param {string} id */
export async function editorView(c, id) {
  const [strategy, nodeTypes, symbols] = await Promise.all([
    c.api.get(`/api/strategies/${encodeURIComponent(id)}`),
    c.api.get('/api/strategies/node-types'),
    c.api.get('/api/market/symbols'),
  ]);
  const types = typeMap(nodeTypes);
  /** @type {import('./graph-model.js').Graph} */
  let graph = layoutMissing(strategy.graph ?? emptyGraph());
  /** @type {import('./graph-model.js').Graph[]} */
  const undo = [];
  let dirty = false;
  /** @type {string | null} */ let selected = null;
  let paletteQuery = '';
  /** @type {string | null} */ let selectedEdge = null;
  /** @type {{ node: string, handle: string } | null} */ let pending = null;
  let report = strategy.compilationReport ?? { ok: true, errors: [], warnings: [] };
  let errors = errorsByNode(graph, report);
  /** @type {Record<string, (number | null)[]>} */ let previewSeries = {};

  const status = h('span', { class: 'status-line' });
  const nameInput = /** @type {HTMLInputElement} */ (
    h('input', {
      class: 'title-input',
      value: strategy.name,
      'aria-label': 'strategy name',
      oninput: () => markDirty(),
    })
  );
  const canvas = h('div', { class: 'canvas', style: `width:${CANVAS_W}px;height:${CANVAS_H}px` });
  const wires = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  wires.setAttribute('class', 'wires');
  wires.setAttribute('width', String(CANVAS_W));
  wires.setAttribute('height', String(CANVAS_H));
  const side = h('aside', { class: 'inspector' });
  const previewBox = h('div', { class: 'preview' });
  const scroller = h('div', { class: 'canvas-scroll' }, canvas);

  function markDirty() {
    dirty = true;
    status.textContent = 'unsaved changes';
  }

  /** @param {import('./graph-model.js').Graph} next */
  function change(next) {
    undo.push(graph);
    if (undo.length > 200) undo.shift();
    graph = next;
    markDirty();
    draw();
  }

  function draw() {
    canvas.replaceChildren(wires);
    wires.replaceChildren();
    // nodes by id once per redraw: a large graph's wires each look up two nodes
    const byId = new Map(graph.nodes.map((n) => [n.id, n]));
    for (const e of graph.edges) {
      const s = byId.get(e.source);
      const t = byId.get(e.target);
      if (!s || !t) continue;
      const a = portXY(s, types.get(s.type)?.outputs.findIndex((p) => p.name === e.sourceHandle) ?? 0, 'out');
      const b = portXY(t, types.get(t.type)?.inputs.findIndex((p) => p.name === e.targetHandle) ?? 0, 'in');
      const mid = Math.max(40, Math.abs(b.x - a.x) / 2);
      const d = `M${a.x},${a.y} C${a.x + mid},${a.y} ${b.x - mid},${b.y} ${b.x},${b.y}`;
      const kind = types.get(s.type)?.outputs.find((p) => p.name === e.sourceHandle)?.kind ?? 'number';
      for (const cls of ['wire-hit', `wire wire-${kind}${selectedEdge === e.id ? ' selected' : ''}`]) {
        const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
        p.setAttribute('d', d);
        p.setAttribute('class', cls);
        p.addEventListener('click', (ev) => {
          ev.stopPropagation();
          selectedEdge = e.id;
          selected = null;
          draw();
        });
        wires.append(p);
      }
    }
    for (const n of graph.nodes) canvas.append(nodeEl(n));
    drawInspector();
  }

  /** @param {import('./graph-model.js').GraphNode} n */
  function nodeEl(n) {
    const t = types.get(n.type);
    const errs = errors.get(n.id);
    const params = Object.entries(n.data ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(' · ');
    const rows = Math.max(t?.inputs.length ?? 0, t?.outputs.length ?? 0, 1);
    const el = h(
      'div',
      {
        class: `node cat-${t?.category ?? 'unknown'}${selected === n.id ? ' selected' : ''}${errs ? ' has-error' : ''}`,
        style: `left:${n.position.x}px;top:${n.position.y}px;width:${NODE_W}px;min-height:${HEAD_H + rows * PORT_H + 18}px`,
        'data-node': n.id,
        onclick: (/** @type {Event} */ ev) => {
          ev.stopPropagation();
          selected = n.id;
          selectedEdge = null;
          draw();
        },
      },
      h(
        'div',
        { class: 'node-head', title: errs ? errs.join('\n') : (t?.description ?? '') },
        t?.label ?? n.type,
        h('small', null, ` ${n.id}`),
      ),
      (t?.inputs ?? []).map((p, i) =>
        h(
          'button',
          {
            class: `port in kind-${p.kind}`,
            style: `top:${HEAD_H + i * PORT_H}px`,
            title: `${p.name} (${p.kind} in)`,
            onclick: (/** @type {Event} */ ev) => {
              ev.stopPropagation();
              if (!pending) return void (status.textContent = 'pick an output first, then this input');
              const r = connect(graph, types, pending, { node: n.id, handle: p.name });
              pending = null;
              if (r.graph) change(r.graph);
              else {
                status.textContent = `not connected: ${r.error}`;
                draw();
              }
            },
          },
          p.name,
        ),
      ),
      (t?.outputs ?? []).map((p, i) =>
        h(
          'button',
          {
            class: `port out kind-${p.kind}${pending?.node === n.id && pending.handle === p.name ? ' pending' : ''}`,
            style: `top:${HEAD_H + i * PORT_H}px`,
            title: `${p.name} (${p.kind} out): click, then click an input`,
            onclick: (/** @type {Event} */ ev) => {
              ev.stopPropagation();
              pending = { node: n.id, handle: p.name };
              status.textContent = `wiring ${n.id}.${p.name}: click an input (Esc cancels)`;
              draw();
            },
          },
          p.name,
        ),
      ),
      h('div', { class: 'node-params' }, params),
    );
    const head = /** @type {HTMLElement} */ (el.querySelector('.node-head'));
    head.addEventListener('pointerdown', (ev) => {
      const start = { x: ev.clientX, y: ev.clientY, px: n.position.x, py: n.position.y };
      head.setPointerCapture(ev.pointerId);
      const moveTo = (/** @type {PointerEvent} */ e) => ({
        x: Math.max(0, start.px + e.clientX - start.x),
        y: Math.max(0, start.py + e.clientY - start.y),
      });
      const onMove = (/** @type {PointerEvent} */ e) => {
        const p = moveTo(e);
        el.style.left = `${p.x}px`;
        el.style.top = `${p.y}px`;
      };
      const onUp = (/** @type {PointerEvent} */ e) => {
        head.removeEventListener('pointermove', onMove);
        head.removeEventListener('pointerup', onUp);
        const p = moveTo(e);
        if (p.x !== n.position.x || p.y !== n.position.y) change(moveNode(graph, n.id, p));
      };
      head.addEventListener('pointermove', onMove);
      head.addEventListener('pointerup', onUp);
    });
    return el;
  }

  function drawInspector() {
    const n = graph.nodes.find((x) => x.id === selected);
    const parts = [];
    if (selectedEdge) {
      parts.push(
        h('h3', null, 'Wire'),
        h('p', null, selectedEdge),
        h(
          'button',
          {
            class: 'danger',
            onclick: () => (selectedEdge && change(removeEdge(graph, selectedEdge)), (selectedEdge = null), draw()),
          },
          'Delete wire',
        ),
      );
    } else if (n) {
      const t = types.get(n.type);
      parts.push(
        h('h3', null, t?.label ?? n.type, h('small', null, ` ${n.id}`)),
        h('p', { class: 'muted' }, t?.description ?? ''),
      );
      if (t?.convention) parts.push(h('p', { class: 'muted' }, `Convention: ${t.convention}`));
      for (const msg of errors.get(n.id) ?? []) parts.push(h('p', { class: 'bad' }, msg));
      for (const [name, schema] of Object.entries(t?.params.properties ?? {})) {
        const value = n.data?.[name] ?? schema.default;
        const hint = h('small', { class: 'bad' });
        const onChange = (/** @type {Event} */ ev) => {
          const target = /** @type {HTMLInputElement} */ (ev.target);
          const r = readParam(schema, target.type === 'checkbox' ? target.checked : target.value);
          hint.textContent = r.error ? `must be ${r.error}` : '';
          if (!r.error && r.value !== n.data?.[name]) change(setParam(graph, n.id, name, r.value));
        };
        const input = schema.enum
          ? h(
              'select',
              { onchange: onChange },
              schema.enum.map((o) => h('option', { value: o, selected: o === value }, o)),
            )
          : schema.type === 'boolean'
            ? h('input', { type: 'checkbox', checked: value === true, onchange: onChange })
            : schema.type === 'string'
              ? h('input', { type: 'text', value, placeholder: 'ETHUSD', onchange: onChange })
              : h('input', {
                  type: 'number',
                  value,
                  min: schema.minimum,
                  max: schema.maximum,
                  step: schema.type === 'integer' ? 1 : 'any',
                  onchange: onChange,
                });
        parts.push(h('label', null, schema.title ?? name, input, hint));
      }
      const series = previewSeries[n.id];
      if (series)
        parts.push(
          svgBox(
            lineChart({
              width: 320,
              height: 140,
              title: `${n.id} on the preview`,
              series: [{ values: series, color: '#7c3aed', label: n.id }],
            }),
          ),
        );
      parts.push(
        h(
          'button',
          { class: 'danger', onclick: () => (change(removeNode(graph, n.id)), (selected = null), draw()) },
          'Delete node',
        ),
      );
    } else {
      parts.push(
        h('h3', null, 'Palette'),
        h('p', { class: 'muted' }, 'Click a type to add it. Wire an output (right) to an input (left).'),
      );
      /** @type {Map<string, any[]>} */
      const byCat = new Map();
      for (const t of nodeTypes) byCat.set(t.category, [...(byCat.get(t.category) ?? []), t]);
      /** @type {{ chip: HTMLElement, type: any }[]} */
      const chips = [];
      /** @type {HTMLElement[]} */
      const groups = [];
      const none = h('p', { class: 'muted palette-none', hidden: true }, 'No node type matches.');
      // filtering hides chips in place (no redraw), so the search box keeps its focus while typing
      const filter = () => {
        for (const c of chips) c.chip.hidden = !matchesQuery(c.type, paletteQuery);
        for (const g of groups) {
          const any = [...g.querySelectorAll('.chip')].some((c) => !(/** @type {HTMLElement} */ (c).hidden));
          g.hidden = !any;
          if (paletteQuery) /** @type {HTMLDetailsElement} */ (g).open = any;
        }
        none.hidden = chips.some((c) => !c.chip.hidden);
      };
      parts.push(
        h('input', {
          type: 'search',
          class: 'palette-search',
          placeholder: 'Find a node type: rsi, trend, volume…',
          'aria-label': 'Find a node type',
          value: paletteQuery,
          oninput: (/** @type {Event} */ e) => {
            paletteQuery = /** @type {HTMLInputElement} */ (e.target).value;
            filter();
          },
        }),
        none,
      );
      for (const [cat, list] of byCat) {
        const group = h(
          'details',
          { open: cat === 'source' || cat === 'indicator' },
          h('summary', null, `${cat} (${list.length})`),
          h(
            'div',
            { class: 'palette' },
            list.map((t) => {
              const chip = h(
                'button',
                { class: `chip cat-${cat}`, title: t.description, onclick: () => place(t) },
                t.label,
              );
              chips.push({ chip, type: t });
              return chip;
            }),
          ),
        );
        groups.push(group);
        parts.push(group);
      }
      if (paletteQuery) filter();
      if (report.errors?.length)
        parts.push(
          h('h3', null, 'Compile errors'),
          h(
            'ul',
            null,
            report.errors.map((/** @type {any} */ e) =>
              h('li', { class: 'bad' }, `${e.nodeId ?? e.edgeId ?? 'graph'}: ${e.message}`),
            ),
          ),
        );
      if (report.warnings?.length)
        parts.push(
          h('h3', null, 'Warnings'),
          h(
            'ul',
            null,
            report.warnings.map((/** @type {any} */ e) => h('li', null, `${e.nodeId ?? 'graph'}: ${e.message}`)),
          ),
        );
    }
    side.replaceChildren(...parts);
  }

  /** A new node where the visible part of the canvas is. @param {any} t */
  function place(t) {
    const x = scroller.scrollLeft + 40 + ((graph.nodes.length * 23) % 200);
    const y = scroller.scrollTop + 40 + ((graph.nodes.length * 37) % 240);
    const r = addNode(graph, t, { x, y });
    change(r.graph);
    selected = r.id;
    draw();
  }

  async function compileNow() {
    const r = await attempt(() => c.api.post('/api/strategies/compile', { graph }));
    if (!r) return null;
    report = r;
    errors = errorsByNode(graph, r);
    status.textContent = r.ok
      ? `compiles: warm-up ${r.warmup} bars${r.warnings.length ? `, ${r.warnings.length} warnings` : ''}`
      : `${r.errors.length} errors: see the red nodes`;
    draw();
    return r;
  }

  async function save() {
    const s = await attempt(() =>
      c.api.put(`/api/strategies/${encodeURIComponent(id)}`, { name: nameInput.value.trim() || 'Untitled', graph }),
    );
    if (!s) return false;
    dirty = false;
    report = s.compilationReport ?? report;
    errors = errorsByNode(graph, report);
    status.textContent = report.ok ? 'saved' : `saved, but it does not compile (${report.errors.length} errors)`;
    draw();
    if (history.open) void showHistory();
    return true;
  }

  // the strategy's saved versions: each change of behaviour is one; any can be restored (as a new one)
  const historyList = h('div');
  const history = /** @type {HTMLDetailsElement} */ (
    h(
      'details',
      {
        class: 'history',
        ontoggle: () => {
          if (history.open) void showHistory();
        },
      },
      h('summary', null, 'History'),
      historyList,
    )
  );
  async function showHistory() {
    const versions = await attempt(() => c.api.get(`/api/strategies/${encodeURIComponent(id)}/versions`));
    if (!versions) return;
    const latest = versions[0]?.version;
    historyList.replaceChildren(
      table(
        [
          ['Version', (/** @type {any} */ v) => `v${v.version}${v.version === latest ? ' (current)' : ''}`],
          ['Saved', (v) => when(v.createdAt)],
          ['Name', (v) => v.name],
          [
            '',
            (v) => [
              v.version > 1
                ? h('button', { class: 'link', onclick: () => void showChanges(v.version) }, `Changes in v${v.version}`)
                : '',
              v.version === latest
                ? ''
                : h('button', { class: 'link', onclick: () => void restore(v.version) }, `Restore v${v.version}`),
            ],
          ],
        ],
        versions,
        'No versions yet.',
      ),
      changesBox,
    );
  }
  // what was run with this strategy: its newest backtests, sweeps and paper sessions, each with the
  // version it ran (read when opened)
  const runsList = h('div');
  const runs = /** @type {HTMLDetailsElement} */ (
    h(
      'details',
      {
        class: 'strategy-runs',
        ontoggle: () => {
          if (runs.open) void attempt(showRuns);
        },
      },
      h('summary', null, 'Runs'),
      runsList,
    )
  );
  async function showRuns() {
    const q = `strategyId=${encodeURIComponent(id)}`;
    const [backtests, sweeps, sessions] = await Promise.all([
      c.api.get(`/api/backtests?${q}&limit=20`),
      c.api.get(`/api/backtests/sweeps?${q}&limit=10`),
      c.api.get(`/api/forward-tests?${q}&limit=20`),
    ]);
    const version = (/** @type {any} */ p) => (p?.strategyVersion ? `v${p.strategyVersion}` : '');
    runsList.replaceChildren(
      h('h3', null, 'Backtests'),
      table(
        [
          ['Started', (/** @type {any} */ b) => h('a', { href: `#/backtests/${b.id}` }, when(b.createdAt))],
          ['Name', (b) => b.name ?? ''],
          ['Version', (b) => version(b.parameters)],
          ['Symbol', (b) => `${b.symbol} ${b.interval}`],
          ['Status', (b) => b.status],
          ['Return %', (b) => (b.metrics?.returnPct == null ? '–' : Number(b.metrics.returnPct).toFixed(2))],
        ],
        backtests,
        'No backtests of it yet.',
      ),
      h('h3', null, 'Sweeps'),
      table(
        [
          ['Started', (/** @type {any} */ s) => h('a', { href: `#/sweeps/${s.sweepId}` }, when(s.createdAt))],
          ['Name', (s) => s.name ?? ''],
          ['Symbol', (s) => `${s.symbol} ${s.interval}`],
          ['Points', (s) => `${s.done + s.failed} of ${s.total}`],
          ['Status', (s) => s.status],
        ],
        sweeps,
        'No sweeps of it yet.',
      ),
      h('h3', null, 'Paper sessions'),
      table(
        [
          ['Session', (/** @type {any} */ x) => h('a', { href: `#/sessions/${x.id}` }, x.name ?? x.id.slice(0, 8))],
          ['Symbol', (x) => x.symbol],
          ['Status', (x) => x.status],
          ['Return %', (x) => (x.returnPct == null ? '–' : Number(x.returnPct).toFixed(2))],
        ],
        sessions,
        'No paper sessions of it yet.',
      ),
    );
  }
  const changesBox = h('div', { class: 'changes' });
  /** What version `v` changed from the one before it. @param {number} v */
  async function showChanges(v) {
    const base = `/api/strategies/${encodeURIComponent(id)}/versions`;
    const pair = await attempt(() => Promise.all([c.api.get(`${base}/${v - 1}`), c.api.get(`${base}/${v}`)]));
    if (!pair) return;
    const lines = graphDiff(pair[0].graph, pair[1].graph);
    changesBox.replaceChildren(
      h('strong', null, `v${v - 1} → v${v}`),
      lines.length
        ? h(
            'ul',
            null,
            lines.map((l) => h('li', null, l)),
          )
        : h('p', { class: 'muted' }, 'No change in nodes, parameters or wires.'),
    );
  }
  /** @param {number} version */
  async function restore(version) {
    if (dirty) return toast('Save or undo your changes first: restoring replaces the graph.', 'error');
    const s = await attempt(() => c.api.post(`/api/strategies/${encodeURIComponent(id)}/versions/${version}/restore`));
    if (!s) return;
    undo.push(graph);
    graph = layoutMissing(s.graph);
    report = s.compilationReport ?? report;
    errors = errorsByNode(graph, report);
    selected = null;
    selectedEdge = null;
    status.textContent = `restored v${version} as v${s.version}`;
    draw();
    void showHistory();
  }

  async function preview(/** @type {Event} */ ev) {
    ev.preventDefault();
    const f = fields(/** @type {HTMLFormElement} */ (ev.target));
    const sym = encodeURIComponent(f.symbol ?? '');
    const candles = await attempt(() =>
      c.api.get(`/api/market/symbols/${sym}/candles?interval=${f.interval}&limit=${f.limit}`),
    );
    if (!candles) return;
    if (!candles.length)
      return toast(`No ${f.interval} candles for ${f.symbol} yet: import history or wait for live ones.`, 'error');
    const r = await attempt(() => c.api.post('/api/strategies/preview', { graph, candles }));
    if (!r) return;
    if (!r.ok) {
      report = r;
      errors = errorsByNode(graph, r);
      draw();
      return toast('The graph does not compile: see the red nodes.', 'error');
    }
    previewSeries = {};
    for (const [nodeId, outs] of Object.entries(r.series)) {
      const first = Object.values(/** @type {Record<string, (number | null)[]>} */ (outs))[0];
      if (first && types.get(graph.nodes.find((n) => n.id === nodeId)?.type ?? '')?.outputs[0]?.kind === 'number')
        previewSeries[nodeId] = first;
    }
    const markers = r.signals
      .filter((/** @type {any} */ s) => s.action === 'buy' || s.action === 'sell' || s.action === 'close')
      .map((/** @type {any} */ s) => ({ index: s.index, side: s.action === 'buy' ? 'buy' : 'sell' }));
    previewBox.replaceChildren(
      svgBox(
        lineChart({
          title: `${f.symbol} ${f.interval}: ${r.signals.length} signals on ${candles.length} candles`,
          series: [{ values: candles.map((/** @type {any} */ k) => k.close), color: '#2563eb', label: 'close' }],
          markers: /** @type {any} */ (markers),
          times: [new Date(candles[0].ts).toLocaleString(), new Date(candles[candles.length - 1].ts).toLocaleString()],
        }),
      ),
    );
    drawInspector();
  }

  /** The strategy check (look-ahead, bar by bar, warm-up) on the symbol's stored candles, shown under the forms. */
  async function checkOn(/** @type {Event} */ ev) {
    ev.preventDefault();
    const f = fields(/** @type {HTMLFormElement} */ (ev.target));
    previewBox.replaceChildren(h('p', { class: 'muted' }, `Checking on ${f.symbol} ${f.interval}…`));
    const body = { graph, symbol: f.symbol, interval: f.interval, limit: Number(f.limit) };
    const r = await attempt(() => c.api.post('/api/strategies/check', body));
    if (!r) return previewBox.replaceChildren();
    if (!r.ok) {
      report = r;
      errors = errorsByNode(graph, r);
      draw();
      previewBox.replaceChildren();
      return toast('The graph does not compile: see the red nodes.', 'error');
    }
    previewBox.replaceChildren(checkView(r));
  }

  /** The graph goes to a run as stored: saved first if changed, and only if it compiles. */
  async function readyToRun() {
    if (dirty && !(await save())) return false;
    if (!report.ok) toast('Fix the compile errors first.', 'error');
    return report.ok;
  }

  function undoLast() {
    const last = undo.pop();
    if (!last) return;
    graph = last;
    markDirty();
    draw();
  }

  /** @param {'backtest' | 'portfolio' | 'session'} what */
  const launch = (what) => (/** @type {Event} */ ev) => {
    ev.preventDefault();
    void launchFrom(what, /** @type {HTMLFormElement} */ (ev.target));
  };
  /** @param {'backtest' | 'portfolio' | 'session'} what @param {HTMLFormElement} form */
  const launchFrom = async (what, form) => {
    const f = fields(form);
    if (!(await readyToRun())) return;
    /** @type {Record<string, unknown>} */
    let body;
    try {
      body = { strategyId: id, ...runBody(f, what) };
    } catch (e) {
      const label = { backtest: 'Backtest', portfolio: 'Portfolio', session: 'Paper trading' }[what];
      return toast(`${label}: ${/** @type {Error} */ (e).message}`, 'error');
    }
    if (what === 'portfolio') {
      const bt = await attempt(() => c.api.post('/api/backtests/portfolio', body));
      if (bt) c.go(`#/backtests/${bt.id}`);
    } else if (what === 'backtest') {
      const bt = await attempt(() => c.api.post('/api/backtests', body));
      if (bt) c.go(`#/backtests/${bt.id}`);
    } else {
      const s = await attempt(() => c.api.post('/api/forward-tests', body));
      if (s) c.go(`#/sessions/${s.id}`);
    }
  };

  /** The grid form: a sweep (every point over all bars, ranked) or a walk-forward (picked in sample, tested after). */
  const optimise = (/** @type {'sweep' | 'walk-forward'} */ kind) => async (/** @type {HTMLFormElement} */ form) => {
    const f = fields(form);
    const label = kind === 'sweep' ? 'Sweep' : 'Walk-forward';
    const sample = Number(f.sample) || 0;
    if (f.method === 'tpe' && !sample) return toast(`${label}: an adaptive search needs a number of points`, 'error');
    const grid = parseSweep(f.grid ?? '', graph, types, sample);
    if (grid.error !== undefined) return toast(`${label}: ${grid.error}`, 'error');
    /** @type {Record<string, unknown>} */
    let run;
    try {
      run = runBody(f, kind);
    } catch (e) {
      return toast(`${label}: ${/** @type {Error} */ (e).message}`, 'error');
    }
    if (!(await readyToRun())) return;
    const body = {
      strategyId: id,
      ...run,
      params: grid.params,
      rankBy: f.rankBy,
      ...(Number(f.minTrades) > 0 ? { minTrades: Number(f.minTrades) } : {}),
      ...(sample ? { sample: { count: sample, ...(f.method === 'tpe' ? { method: 'tpe' } : {}) } } : {}),
    };
    if (kind === 'sweep') {
      const r = await attempt(() => c.api.post('/api/backtests/sweep', body));
      if (r) c.go(`#/sweeps/${r.sweepId}`);
    } else {
      const r = await attempt(() => c.api.post('/api/backtests/walk-forward', body));
      if (r) c.go(`#/backtests/${r.id}`);
    }
  };
  const sweep = (/** @type {Event} */ ev) => {
    ev.preventDefault();
    void optimise('sweep')(/** @type {HTMLFormElement} */ (ev.target));
  };

  const onKey = (/** @type {KeyboardEvent} */ ev) => {
    const tag = /** @type {HTMLElement} */ (ev.target).tagName;
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') return;
    if (ev.key === 'Escape') {
      pending = null;
      selected = null;
      selectedEdge = null;
      status.textContent = '';
      draw();
    } else if (ev.key.startsWith('Arrow') && selected) {
      // the keyboard's way to move a node (20 px a press, 1 px with Shift)
      ev.preventDefault();
      const n = graph.nodes.find((x) => x.id === selected);
      if (!n) return;
      const step = ev.shiftKey ? 1 : 20;
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[ev.key];
      if (!d) return;
      change(moveNode(graph, n.id, { x: Math.max(0, n.position.x + d[0]), y: Math.max(0, n.position.y + d[1]) }));
    } else if ((ev.key === 'Delete' || ev.key === 'Backspace') && (selected || selectedEdge)) {
      change(selected ? removeNode(graph, selected) : removeEdge(graph, /** @type {string} */ (selectedEdge)));
      selected = selectedEdge = null;
      draw();
    } else if (ev.key === 'z' && (ev.ctrlKey || ev.metaKey)) undoLast();
  };
  document.addEventListener('keydown', onKey);
  const onUnload = (/** @type {BeforeUnloadEvent} */ ev) => dirty && ev.preventDefault();
  window.addEventListener('beforeunload', onUnload);
  c.onLeave(() => {
    document.removeEventListener('keydown', onKey);
    window.removeEventListener('beforeunload', onUnload);
  });
  canvas.addEventListener('click', () => {
    selected = selectedEdge = null;
    pending = null;
    draw();
  });

  /** The less common settings of a run, folded away. @param {'backtest' | 'sweep' | 'session'} kind */
  const options = (kind) =>
    h(
      'details',
      { class: 'options' },
      h('summary', null, 'options'),
      // what the run is called (a sweep's, each of its backtests'): the lists find it by its name
      h('label', null, 'name ', h('input', { name: 'name', maxlength: 200 })),
      h(
        'label',
        {
          title:
            "a limit order filled at its level pays this fee, as a maker (below 0: a rebate); empty: the fee above, as a taker's",
        },
        'maker fee (%) ',
        h('input', { name: 'makerFeePct', type: 'number', min: -0.1, max: 10, step: 'any', placeholder: 'the fee' }),
      ),
      h(
        'label',
        {
          title:
            "an exchange's lot size: every quantity a multiple of it (0.001 BTC); empty: whole shares, or 1e-8. A portfolio's symbols may have their own: 1, BTCUSD=0.001",
        },
        'quantity step ',
        h('input', { name: 'qtyStep', type: 'text', inputmode: 'decimal', placeholder: 'auto', size: 12 }),
      ),
      h(
        'label',
        {
          title:
            "an exchange's minimum order value: smaller entries are refused (closes never are). A portfolio's symbols may have their own: 10, BTCUSD=5",
        },
        'min order value ',
        h('input', { name: 'minNotional', type: 'text', inputmode: 'decimal', placeholder: 'none', size: 12 }),
      ),
      h(
        'label',
        { title: "a short position pays this % a year of its value (a broker's borrow fee), with the funding" },
        'short borrow rate (% a year) ',
        h('input', { name: 'borrowRatePct', type: 'number', min: 0, max: 100, step: 'any', placeholder: '0' }),
      ),
      h(
        'label',
        null,
        'slippage (bps) ',
        h('input', { name: 'slippageBps', type: 'number', min: 0, max: 1000, step: 'any' }),
      ),
      h('label', null, h('input', { name: 'allowShort', type: 'checkbox' }), ' allow short'),
      h(
        'label',
        { title: 'isolated margin, as perpetual futures: a position is worth up to this many times its margin' },
        'leverage ',
        h('input', { name: 'leverage', type: 'number', min: 1, max: 125, step: 'any', placeholder: '1' }),
      ),
      h(
        'label',
        { title: 'below this share of its value left as margin, a leveraged position is liquidated' },
        'maintenance margin (%) ',
        h('input', { name: 'maintenanceMarginPct', type: 'number', min: 0, max: 50, step: 'any', placeholder: '0.5' }),
      ),
      h(
        'label',
        { title: 'perpetual futures: % of the position value paid every 8 hours by longs (received by shorts)' },
        'funding (% / 8 h) ',
        h('input', { name: 'fundingRatePct', type: 'number', min: -1, max: 1, step: 'any', placeholder: '0' }),
      ),
      kind !== 'session' &&
        h(
          'label',
          { title: 'check stops and targets on these finer candles inside each bar (they must be stored)' },
          'detail timeframe ',
          h(
            'select',
            { name: 'detailInterval' },
            h('option', { value: '' }, 'none'),
            ['1m', '5m', '15m', '1h'].map((i) => h('option', { value: i }, i)),
          ),
        ),
      // a paper session's risk limits: a backtest applies them as the session would
      h(
        'label',
        null,
        'stop at drawdown (%) ',
        h('input', { name: 'maxDrawdownPct', type: 'number', min: 0.01, max: 100, step: 'any' }),
      ),
      h(
        'label',
        null,
        'max position (% of equity) ',
        h('input', { name: 'maxPositionPct', type: 'number', min: 0.01, max: 12_500, step: 'any' }),
      ),
      h(
        'label',
        null,
        'max daily loss (%) ',
        h('input', { name: 'maxDailyLossPct', type: 'number', min: 0.01, max: 100, step: 'any' }),
      ),
      h(
        'label',
        { title: 'a pause by the daily loss limit ends with the UTC day: the next day resumes trading' },
        h('input', { name: 'resumeNextDay', type: 'checkbox' }),
        ' resume the next day',
      ),
      // a portfolio's limits on its summed equity (a paper portfolio's): every symbol closed when reached
      kind === 'session'
        ? ''
        : [
            h(
              'label',
              {
                title:
                  'a portfolio: every symbol closed, trading over, when the summed equity falls this far from its peak',
              },
              'portfolio drawdown stop (%) ',
              h('input', { name: 'portfolioDrawdownPct', type: 'number', min: 0.01, max: 100, step: 'any' }),
            ),
            h(
              'label',
              {
                title:
                  'a portfolio: every symbol closed, trading paused (to the next day with "resume the next day"), when the summed equity loses this much in a UTC day',
              },
              'portfolio daily loss (%) ',
              h('input', { name: 'portfolioDailyLossPct', type: 'number', min: 0.01, max: 100, step: 'any' }),
            ),
          ],
      kind === 'session'
        ? [
            h(
              'label',
              null,
              'evaluate on ',
              h(
                'select',
                { name: 'evaluation' },
                h('option', { value: 'tick' }, 'every tick'),
                ['1m', '5m', '15m', '1h'].map((i) => h('option', { value: i }, `${i} candles`)),
              ),
            ),
          ]
        : [
            h('label', null, 'from ', h('input', { name: 'from', type: 'date' })),
            h('label', null, 'to ', h('input', { name: 'to', type: 'date' })),
          ],
    );
  const symbolSelect = () =>
    h(
      'select',
      { name: 'symbol' },
      symbols.map((/** @type {any} */ s) => h('option', { value: s.symbol }, s.symbol)),
    );
  draw();
  return h(
    'section',
    { class: 'editor' },
    h(
      'div',
      { class: 'toolbar' },
      nameInput,
      h('button', { onclick: () => void save() }, 'Save'),
      h('button', { class: 'secondary', onclick: () => void compileNow() }, 'Check'),
      h(
        'button',
        {
          class: 'secondary',
          onclick: undoLast,
        },
        'Undo',
      ),
      status,
    ),
    history,
    runs,
    h('div', { class: 'editor-body' }, scroller, side),
    h(
      'div',
      { class: 'run-forms' },
      h(
        'form',
        { class: 'inline', onsubmit: preview },
        h('strong', null, 'Preview'),
        symbolSelect(),
        intervalSelect('interval', '1m'),
        h('input', { name: 'limit', type: 'number', value: 300, min: 10, max: 5000 }),
        h('button', { type: 'submit', class: 'secondary' }, 'Preview'),
      ),
      h(
        'form',
        { class: 'inline', onsubmit: checkOn },
        h('strong', null, 'Look-ahead & warm-up'),
        symbolSelect(),
        intervalSelect('interval', '1d'),
        h('input', { name: 'limit', type: 'number', value: 5000, min: 2, max: 100000, 'aria-label': 'bars' }),
        h('button', { type: 'submit', class: 'secondary' }, 'Check strategy'),
      ),
      h(
        'form',
        { class: 'inline', onsubmit: launch('backtest') },
        h('strong', null, 'Backtest'),
        symbolSelect(),
        intervalSelect('interval', '1d'),
        h('input', { name: 'balance', type: 'number', value: 10000, min: 1, 'aria-label': 'starting balance' }),
        h('input', { name: 'fee', type: 'number', value: 0.1, min: 0, max: 10, step: 'any', 'aria-label': 'fee %' }),
        '% fee',
        options('backtest'),
        h(
          'details',
          { class: 'options' },
          h('summary', null, 'portfolio'),
          h(
            'label',
            null,
            'symbols ',
            h('input', {
              name: 'symbols',
              class: 'grid-input',
              placeholder: 'GOOG, BTCUSD or GOOG:3, BTCUSD:1',
              'aria-label': 'portfolio symbols',
            }),
          ),
        ),
        h('button', { type: 'submit' }, 'Run backtest'),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            title: 'the same strategy on each of the symbols under "portfolio", each with its share of the balance',
            onclick: (/** @type {Event} */ ev) => {
              const form = /** @type {HTMLButtonElement} */ (ev.currentTarget).form;
              if (form && form.reportValidity()) void launchFrom('portfolio', form);
            },
          },
          'Portfolio backtest',
        ),
      ),
      h(
        'form',
        { class: 'inline', onsubmit: sweep },
        h('strong', null, 'Sweep'),
        h('input', {
          name: 'grid',
          class: 'grid-input',
          value: suggestSweep(graph, types),
          placeholder: 'node.param=value,value; node.param=low..high:step',
          'aria-label': 'parameter grid',
          title: 'values (5,10,20) or a range (5..50, 20..200:5)',
        }),
        symbolSelect(),
        intervalSelect('interval', '1d'),
        h('input', { name: 'balance', type: 'number', value: 10000, min: 1, 'aria-label': 'starting balance' }),
        h('input', { name: 'fee', type: 'number', value: 0.1, min: 0, max: 10, step: 'any', 'aria-label': 'fee %' }),
        '% fee, rank by',
        h(
          'select',
          { name: 'rankBy' },
          MEASURES.map((k) => h('option', { value: k }, k)),
        ),
        h('input', {
          name: 'minTrades',
          type: 'number',
          min: 0,
          step: 1,
          placeholder: 'min trades',
          'aria-label': 'fewest trades to rank',
          title: 'a combination with fewer closed trades ranks last (a Sharpe over three trades says little)',
        }),
        options('sweep'),
        h(
          'details',
          { class: 'options' },
          h('summary', null, 'random or adaptive search'),
          h(
            'label',
            { title: 'run this many points of the grid (grids of any size); empty: every point' },
            'points ',
            h('input', { name: 'sample', type: 'number', min: 1, max: 500, 'aria-label': 'random sample size' }),
          ),
          h(
            'label',
            {
              title:
                'at random: every point drawn at once; adaptive (TPE): 10 at random, then each next point proposed from the results so far, near the best',
            },
            'drawn ',
            h(
              'select',
              { name: 'method', 'aria-label': 'search method' },
              h('option', { value: 'random' }, 'at random'),
              h('option', { value: 'tpe' }, 'adaptively (TPE)'),
            ),
          ),
        ),
        h(
          'details',
          { class: 'options' },
          h('summary', null, 'portfolio'),
          h(
            'label',
            {
              title:
                "each point of the sweep, or each window's backtests of the walk-forward, a portfolio backtest of these symbols (instead of the one above)",
            },
            'symbols ',
            h('input', {
              name: 'symbols',
              class: 'grid-input',
              placeholder: 'GOOG, BTCUSD or GOOG:3, BTCUSD:1',
              'aria-label': 'sweep portfolio symbols',
            }),
          ),
        ),
        h(
          'details',
          { class: 'options' },
          h('summary', null, 'walk-forward'),
          h('label', null, 'folds ', h('input', { name: 'folds', type: 'number', value: 5, min: 2, max: 20 })),
          h(
            'label',
            null,
            'out of sample (%) ',
            h('input', { name: 'outOfSamplePct', type: 'number', value: 25, min: 5, max: 50 }),
          ),
          h('label', null, h('input', { name: 'anchored', type: 'checkbox' }), ' anchored'),
          h(
            'label',
            {
              title:
                'each fold takes the best in sample, or the best with its neighbours in the grid (a plateau, not a spike)',
            },
            'pick ',
            h(
              'select',
              { name: 'pick' },
              h('option', { value: 'best' }, 'the best'),
              h('option', { value: 'robust' }, 'the most robust'),
            ),
          ),
        ),
        h('button', { type: 'submit' }, 'Run sweep'),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            title: 'pick the best combination on each in-sample window, test it on the window after',
            onclick: (/** @type {Event} */ ev) => {
              const form = /** @type {HTMLButtonElement} */ (ev.currentTarget).form;
              if (form && form.reportValidity()) void optimise('walk-forward')(form);
            },
          },
          'Walk-forward',
        ),
      ),
      h(
        'form',
        { class: 'inline', onsubmit: launch('session') },
        h('strong', null, 'Paper trade'),
        symbolSelect(),
        h('input', { name: 'balance', type: 'number', value: 10000, min: 1, 'aria-label': 'starting balance' }),
        h('input', { name: 'fee', type: 'number', value: 0.1, min: 0, max: 10, step: 'any', 'aria-label': 'fee %' }),
        '% fee',
        options('session'),
        h('button', { type: 'submit' }, 'Start session'),
      ),
    ),
    previewBox,
  );
}
