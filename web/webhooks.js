// @ts-check
/**
 * Webhooks, on the alerts page: where alerts, fills and finished runs are sent (a chat's incoming
 * webhook, an automation service, one's own endpoint), each one's last delivery, a test send, the
 * delivery log, and the signing secret, shown once when the webhook is made.
 */
import { attempt, fields, h, shownOnce, table, when } from './dom.js';

/** The events a webhook can ask for, as the API names them, with what each is. */
export const WEBHOOK_EVENTS = [
  ['alert', 'an alert fires'],
  ['trade', 'a paper session fills an order'],
  ['order.refused', 'a paper session refuses an order'],
  ['session.paused', 'a session pauses (a daily loss limit, or by hand)'],
  ['session.resumed', 'a session resumes (a new day after a daily loss pause, or by hand)'],
  ['session.stopped', 'a session stops'],
  ['session.failed', 'a session fails'],
  ['backtest.done', 'a backtest finishes'],
  ['backtest.failed', 'a backtest fails'],
  ['sweep.done', 'a sweep finishes (instead of each of its backtests)'],
];

/** A delivery's outcome in a few words. @param {any} d */
export const deliveryText = (d) =>
  d.status === 'delivered'
    ? `delivered (${d.responseStatus}) ${when(d.finishedAt)}`
    : d.status === 'failed'
      ? `failed: ${d.error}`
      : `pending, attempt ${d.attempts + 1}${d.error ? ` after: ${d.error}` : ''}`;

/** @param {import('./app.js').Ctx} c */
export async function webhooksSection(c) {
  const secretBox = h('div');
  const logBox = h('div');

  const create = async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const form = /** @type {HTMLFormElement} */ (ev.target);
    const f = fields(form);
    const events = [...form.querySelectorAll('input[name=event]:checked')].map(
      (i) => /** @type {HTMLInputElement} */ (i).value,
    );
    const body = {
      url: f.url,
      format: f.format,
      events,
      ...(f.format === 'telegram' ? { chatId: (f.chatId ?? '').trim() } : {}),
      ...(f.description ? { description: f.description } : {}),
    };
    const w = await attempt(() => c.api.post('/api/webhooks', body));
    if (!w) return;
    // the secret exists only in this answer: shown until the page is left, with what it is for
    await refresh();
    secretBox.replaceChildren(
      shownOnce(
        'Signing secret',
        w.secret,
        'Each delivery carries x-algotrade-signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>" with this secret>. ' +
          'Check it, and refuse old times, to know a delivery came from here.',
      ),
    );
  };
  /** shows a webhook's latest deliveries, and gives them back */
  const showLog = async (/** @type {any} */ w) => {
    const rows = /** @type {any[]} */ (
      await c.api.get(`/api/webhooks/${encodeURIComponent(w.id)}/deliveries?limit=20`)
    );
    logBox.replaceChildren(
      h('h3', null, `Deliveries to ${w.url}`),
      table(
        [
          ['Event', (d) => d.event],
          ['Sent', (d) => when(d.createdAt)],
          ['Outcome', (d) => deliveryText(d)],
          ['Message', (d) => d.message],
        ],
        rows,
        'No deliveries yet.',
      ),
    );
    return rows;
  };
  const list = h('div');
  const draw = (/** @type {any[]} */ ws, /** @type {any[][]} */ lastOf) =>
    list.replaceChildren(
      table(
        [
          ['URL', (w) => h('span', { title: w.description ?? '' }, w.url)],
          ['Format', (w) => w.format],
          ['Events', (w) => w.events.join(', ')],
          ['State', (w) => (w.active ? 'on' : 'off (the receiver answered 410 Gone)')],
          ['Last delivery', (w) => (lastOf[ws.indexOf(w)]?.[0] ? deliveryText(lastOf[ws.indexOf(w)]?.[0]) : '–')],
          [
            '',
            (w) => [
              h(
                'button',
                {
                  class: 'link',
                  onclick: async () => {
                    const sent = await attempt(() => c.api.post(`/api/webhooks/${encodeURIComponent(w.id)}/test`));
                    if (!sent) return;
                    // the log at once (the test pending), then again each half second until it is sent
                    // or has failed (at most 15 s: a receiver that times out takes WEBHOOK_TIMEOUT_MS)
                    for (let i = 0; i < 30; i++) {
                      const rows = await attempt(() => showLog(w));
                      if (!rows || rows.find((d) => d.id === sent.id)?.status !== 'pending') break;
                      await new Promise((r) => setTimeout(r, 500));
                    }
                    await attempt(refresh);
                  },
                },
                'Send a test',
              ),
              h('button', { class: 'link', onclick: () => void attempt(() => showLog(w)) }, 'Deliveries'),
              h(
                'button',
                {
                  class: 'link danger',
                  onclick: async () => {
                    if ((await attempt(() => c.api.del(`/api/webhooks/${encodeURIComponent(w.id)}`))) !== undefined)
                      await refresh();
                  },
                },
                'Delete',
              ),
            ],
          ],
        ],
        ws,
        'No webhooks.',
      ),
    );
  const refresh = async () => {
    const ws = /** @type {any[]} */ (await c.api.get('/api/webhooks'));
    draw(
      ws,
      await Promise.all(ws.map((w) => c.api.get(`/api/webhooks/${encodeURIComponent(w.id)}/deliveries?limit=1`))),
    );
  };
  await refresh();
  return h(
    'div',
    { class: 'webhooks' },
    h('h2', null, 'Webhooks'),
    h(
      'p',
      { class: 'muted' },
      'Send alerts, fills and finished runs to another service: a Slack or Discord incoming webhook, or any URL that takes a JSON POST. ' +
        'A failed delivery is tried again with growing waits.',
    ),
    list,
    secretBox,
    logBox,
    h(
      'form',
      { class: 'inline', onsubmit: create },
      h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://…', 'aria-label': 'webhook URL' }),
      h(
        'select',
        { name: 'format', 'aria-label': 'format' },
        h('option', { value: 'json' }, 'JSON'),
        h('option', { value: 'slack' }, 'Slack'),
        h('option', { value: 'discord' }, 'Discord'),
        h('option', { value: 'telegram' }, 'Telegram'),
      ),
      h('input', {
        name: 'chatId',
        placeholder: 'Telegram chat id',
        title:
          'Telegram only: the chat the bot posts to (-100… or @channel); the URL is https://api.telegram.org/bot<token>/sendMessage',
        'aria-label': 'Telegram chat id',
      }),
      WEBHOOK_EVENTS.map(([e, what]) =>
        h(
          'label',
          { title: what },
          h('input', { type: 'checkbox', name: 'event', value: e, checked: e === 'alert' }),
          ` ${e}`,
        ),
      ),
      h('input', { name: 'description', placeholder: 'description (optional)', maxlength: 200 }),
      h('button', { type: 'submit' }, 'Add webhook'),
    ),
  );
}
