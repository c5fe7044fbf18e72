// @ts-check
/**
 * The page's HTTP client: JSON in and out, the access token on every call, and a refresh (once, shared
 * by every call that needed it) when the access token has expired. The API's error body becomes an
 * `ApiError` carrying its code and message, which the page shows as they are.
 */

/** Calls that answer 401 for a wrong password or token, not for an expired access token. */
const SIGN_IN = /^\/api\/auth\/(login|register|refresh|logout)$/;

/**
 * The next page's path in a `Link` header (`<path>; rel="next"`), or null.
 * @param {string | null} link
 */
export function nextOf(link) {
  const m = /<([^>]+)>;\s*rel="next"/.exec(link ?? '');
  return m ? m[1] : null;
}

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {unknown} [details] */
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** @typedef {{ accessToken: string, refreshToken: string, email?: string }} Session */
/** @typedef {{ get(): Session | null, set(s: Session | null): void }} SessionStore */

/**
 * Keeps the session in `storage` (the page passes `localStorage`) under one key.
 * @param {{ getItem(k: string): string | null, setItem(k: string, v: string): void, removeItem(k: string): void }} storage
 */
export function storageSession(storage, key = 'algotrade.session') {
  return {
    get() {
      try {
        return JSON.parse(storage.getItem(key) ?? 'null');
      } catch {
        return null;
      }
    },
    /** @param {Session | null} s */
    set(s) {
      if (s) storage.setItem(key, JSON.stringify(s));
      else storage.removeItem(key);
    },
  };
}

/** A session held in memory only (tests, or a browser that refuses storage). @returns {SessionStore} */
export function memorySession() {
  /** @type {Session | null} */
  let s = null;
  return { get: () => s, set: (v) => void (s = v) };
}

/**
 * @param {{ base?: string, session: SessionStore, fetch?: typeof fetch, onSignedOut?: () => void }} o
 */
export function createApi(o) {
  const base = (o.base ?? '').replace(/\/$/, '');
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  /** @type {Promise<boolean> | null} */
  let refreshing = null;

  /** @param {Response} res */
  async function fail(res) {
    /** @type {any} */
    let body = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON: a proxy's page */
    }
    const e = body?.error;
    return new ApiError(
      res.status,
      e?.code ?? `HTTP_${res.status}`,
      e?.message ?? `${res.status} ${res.statusText}`,
      e?.details,
    );
  }

  /** One refresh at a time; false when the refresh token is gone or refused (signed out). */
  function refresh() {
    refreshing ??= (async () => {
      const s = o.session.get();
      if (!s?.refreshToken) return false;
      const res = await doFetch(`${base}/api/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: s.refreshToken }),
      });
      if (!res.ok) {
        o.session.set(null);
        o.onSignedOut?.();
        return false;
      }
      const pair = /** @type {{ accessToken: string, refreshToken: string }} */ (await res.json());
      o.session.set({ ...s, accessToken: pair.accessToken, refreshToken: pair.refreshToken });
      return true;
    })().finally(() => (refreshing = null));
    return refreshing;
  }

  /**
   * @param {string} method @param {string} path @param {unknown} [body]
   * @param {{ text?: boolean, contentType?: string, page?: boolean }} [opts]
   * @returns {Promise<any>} the answer's JSON (text with `text`; null for a 204; with `page`, a list's
   *   page as `{items, next}`, `next` the path of the page after or null)
   */
  async function request(method, path, body, opts = {}) {
    for (let attempt = 0; ; attempt++) {
      const s = o.session.get();
      /** @type {Record<string, string>} */
      const headers = {};
      if (s) headers.authorization = `Bearer ${s.accessToken}`;
      let payload;
      if (body !== undefined) {
        headers['content-type'] = opts.contentType ?? 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      const res = await doFetch(`${base}${path}`, { method, headers, body: payload });
      if (res.status === 401 && attempt === 0 && s && !SIGN_IN.test(path)) {
        if (await refresh()) continue;
      }
      if (!res.ok) throw await fail(res);
      if (res.status === 204) return null;
      if (opts.page) return { items: await res.json(), next: nextOf(res.headers.get('link')) };
      return opts.text ? res.text() : res.json();
    }
  }

  /** @param {'login' | 'register'} how @param {string} email @param {string} password */
  async function signIn(how, email, password) {
    const r = await request('POST', `/api/auth/${how}`, { email, password });
    o.session.set({ accessToken: r.accessToken, refreshToken: r.refreshToken, email });
    return r;
  }

  return {
    request,
    /** @param {string} path */
    get: (path) => request('GET', path),
    /**
     * A list's page: its items and the path of the next page (from the Link header), null on the last.
     * @param {string} path @returns {Promise<{ items: any[], next: string | null }>}
     */
    page: (path) => request('GET', path, undefined, { page: true }),
    /** @param {string} path @param {unknown} [body] */
    post: (path, body) => request('POST', path, body ?? {}),
    /** @param {string} path @param {unknown} body */
    put: (path, body) => request('PUT', path, body),
    /** @param {string} path @param {unknown} body */
    patch: (path, body) => request('PATCH', path, body),
    /** @param {string} path */
    del: (path) => request('DELETE', path),
    /** @param {string} email @param {string} password */
    login: (email, password) => signIn('login', email, password),
    /** @param {string} email @param {string} password */
    register: (email, password) => signIn('register', email, password),
    async logout() {
      const s = o.session.get();
      o.session.set(null);
      if (s?.refreshToken)
        await doFetch(`${base}/api/auth/logout`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken: s.refreshToken }),
        }).catch(() => {});
    },
    signedIn: () => o.session.get() != null,
    /**
     * The WebSocket URL with a token that works now: `/api/auth/me` is asked first, which refreshes an
     * expired token (the socket itself can only be refused, with 4401).
     * @param {string} origin the page's origin, e.g. `http://localhost:8000`
     */
    async socketUrl(origin) {
      await request('GET', '/api/auth/me');
      const s = o.session.get();
      const u = new URL(`${base}/ws`, origin);
      u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
      u.searchParams.set('token', s?.accessToken ?? '');
      return u.toString();
    },
  };
}
/** @typedef {ReturnType<typeof createApi>} Api */
