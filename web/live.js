// @ts-check
/**
 * The page's one WebSocket: it subscribes to whatever channels the open views want, re-subscribes
 * after a reconnect (with jittered back-off), and hands each event to the views listening on its
 * channel. A view that goes away unsubscribes; a channel nobody wants any more is left on the server.
 */

/** @typedef {{ channel?: string, type: string, data: any, ts?: string }} LiveEvent */
/** @typedef {(e: LiveEvent) => void} Listener */

/**
 * @param {{ url: () => Promise<string>, WebSocket?: any, onState?: (s: 'connecting' | 'open' | 'closed') => void,
 *   backoffMs?: (attempt: number) => number }} o
 */
export function createLive(o) {
  const WS = o.WebSocket ?? globalThis.WebSocket;
  /** @type {Map<string, Set<Listener>>} */
  const listeners = new Map();
  /** @type {any} */
  let ws = null;
  let attempt = 0;
  let stopped = false;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  const backoff = o.backoffMs ?? ((n) => Math.min(15_000, 250 * 2 ** n) * (0.5 + Math.random() / 2));

  /** @param {object} msg */
  function send(msg) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg));
  }

  async function open() {
    if (stopped) return;
    o.onState?.('connecting');
    let url;
    try {
      url = await o.url();
    } catch {
      return retry(); // signed out or the server is away: try again later
    }
    if (stopped) return;
    const sock = new WS(url);
    ws = sock;
    sock.onopen = () => {
      attempt = 0;
      o.onState?.('open');
      for (const channel of listeners.keys()) send({ op: 'subscribe', channel });
    };
    sock.onmessage = (/** @type {{ data: unknown }} */ ev) => {
      /** @type {LiveEvent} */
      let msg;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (msg.type === 'subscribed' || msg.type === 'unsubscribed' || msg.type === 'pong') return; // acknowledgements
      const wanted = [...(listeners.get(msg.channel ?? '') ?? []), ...(listeners.get('*') ?? [])];
      for (const fn of wanted) fn(msg);
    };
    sock.onclose = () => {
      if (ws === sock) ws = null;
      o.onState?.('closed');
      retry();
    };
    sock.onerror = () => {}; // a close follows
  }

  function retry() {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void open();
    }, backoff(attempt++));
  }

  return {
    start() {
      stopped = false;
      if (!ws && !timer) void open();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      ws?.close(1000);
      ws = null;
    },
    /**
     * Calls `fn` with every event on `channel` (`*`: every event) until the returned function is called.
     * @param {string} channel @param {Listener} fn
     */
    on(channel, fn) {
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        if (channel !== '*') send({ op: 'subscribe', channel });
      }
      set.add(fn);
      return () => {
        const s = listeners.get(channel);
        if (!s) return;
        s.delete(fn);
        if (s.size === 0) {
          listeners.delete(channel);
          if (channel !== '*') send({ op: 'unsubscribe', channel });
        }
      };
    },
    /** The channels subscribed to now (tests, and the status line). */
    channels: () => [...listeners.keys()].filter((c) => c !== '*'),
  };
}
