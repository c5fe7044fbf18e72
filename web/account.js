// @ts-check
/**
 * The account page: who is signed in, and API tokens for scripts and bots (made with a name, full or
 * read-only, optionally expiring; the token shown once; revoked from the list).
 */
import { attempt, fields, h, shownOnce, table, when } from './dom.js';

/** @param {import('./app.js').Ctx} c @param {string} email */
export async function accountView(c, email) {
  const list = h('div');
  const shown = h('div');
  const refresh = async () => {
    const tokens = /** @type {any[]} */ (await c.api.get('/api/auth/tokens'));
    list.replaceChildren(
      table(
        [
          ['Name', (t) => t.name],
          ['Scope', (t) => (t.scope === 'read' ? 'read only' : 'full')],
          ['Starts with', (t) => h('code', null, `${t.prefix}…`)],
          ['Made', (t) => when(t.createdAt)],
          ['Last used', (t) => when(t.lastUsedAt)],
          ['Expires', (t) => (t.expiresAt ? when(t.expiresAt) : 'never')],
          [
            '',
            (t) =>
              h(
                'button',
                {
                  class: 'link danger',
                  onclick: async () => {
                    if (!confirm(`Revoke "${t.name}"? Scripts using it stop working.`)) return;
                    if ((await attempt(() => c.api.del(`/api/auth/tokens/${encodeURIComponent(t.id)}`))) !== undefined)
                      await refresh();
                  },
                },
                'Revoke',
              ),
          ],
        ],
        tokens,
        'No API tokens.',
      ),
    );
  };
  const create = async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const f = fields(/** @type {HTMLFormElement} */ (ev.target));
    const body = {
      name: f.name,
      scope: f.scope,
      ...(f.expiresInDays ? { expiresInDays: Number(f.expiresInDays) } : {}),
    };
    const t = await attempt(() => c.api.post('/api/auth/tokens', body));
    if (!t) return;
    await refresh();
    shown.replaceChildren(
      shownOnce(
        t.name,
        t.token,
        `Send it as "Authorization: Bearer ${t.prefix}…" (or ?token= on the WebSocket). ` +
          (t.scope === 'read' ? 'It may only read (GET).' : 'It may do what your account may.'),
      ),
    );
  };
  await refresh();
  return h(
    'section',
    null,
    h('h1', null, 'Account'),
    h('p', null, `Signed in as ${email}.`),
    h('h2', null, 'API tokens'),
    h(
      'p',
      { class: 'muted' },
      'For scripts and bots: a token works like your sign-in, without expiring every 15 minutes. ' +
        'Only a hash of it is kept; revoke one here when it leaks or is no longer used.',
    ),
    list,
    shown,
    h(
      'form',
      { class: 'inline', onsubmit: create },
      h('input', {
        name: 'name',
        required: true,
        maxlength: 100,
        placeholder: 'name, e.g. my bot',
        'aria-label': 'token name',
      }),
      h(
        'select',
        { name: 'scope', 'aria-label': 'scope' },
        h('option', { value: 'write' }, 'full'),
        h('option', { value: 'read' }, 'read only'),
      ),
      h('input', {
        name: 'expiresInDays',
        type: 'number',
        min: 1,
        max: 3650,
        placeholder: 'expires in days (optional)',
        'aria-label': 'expires in days',
      }),
      h('button', { type: 'submit' }, 'Make a token'),
    ),
  );
}
