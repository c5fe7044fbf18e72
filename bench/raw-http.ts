import type net from 'node:net';
import { connectReading, EMPTY } from './read-buffer.ts';

/** the head of an HTTP/1.1 GET of `u` with `headers` (CRLFs and the blank line included) */
export function getHead(u: URL, headers: Record<string, string>): string {
  return (
    `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n'
  );
}

/** an open-loop GET load generator: latencies (ms) of `rate` GETs a second for `seconds` */
export type OpenLoopGet = (
  url: string,
  headers: Record<string, string>,
  rate: number,
  seconds: number,
  connections?: number,
) => Promise<number[]>;

/**
 * An open-loop HTTP/1.1 load generator for latency figures: GETs are issued on a fixed schedule
 * (`rate` per second, whatever the answers do) and spread over keep-alive connections; each latency
 * runs from the moment the request was issued (queued when every connection is busy, so a stalled
 * server is charged for the requests waiting behind it) to the last byte of its answer. Timers fire
 * up to a millisecond late, so requests go out in small bursts; the issue time, not the ideal
 * schedule, is the start. The client is a socket and a byte scanner per connection, read into one
 * shared buffer (`connectReading`), cheap enough that the figure is the server's rather than the load
 * generator's.
 */
export async function openLoopGet(
  url: string,
  headers: Record<string, string>,
  rate: number,
  seconds: number,
  connections = 16,
): Promise<number[]> {
  const u = new URL(url);
  const head = Buffer.from(getHead(u, headers));
  const total = Math.round(rate * seconds);
  const lat: number[] = [];
  const backlog: number[] = []; // issue times of requests waiting for a free connection
  let failed = 0;
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));

  interface Conn {
    socket: net.Socket;
    busySince: number; // issue time of the request in flight, or -1
    buf: Buffer;
  }
  const idle: Conn[] = [];
  const send = (c: Conn, issuedAt: number) => {
    c.busySince = issuedAt;
    c.socket.write(head);
  };
  const complete = (c: Conn, ok: boolean) => {
    if (ok) lat.push(performance.now() - c.busySince);
    else failed++;
    c.busySince = -1;
    if (++done === total) finish();
    const next = backlog.shift();
    if (next !== undefined) send(c, next);
    else idle.push(c);
  };
  // answers: `d` is the shared read buffer, so what is kept past this call is copied
  const received = (c: Conn, d: Buffer) => {
    let b = c.buf.length ? Buffer.concat([c.buf, d]) : d;
    for (;;) {
      const end = b.indexOf('\r\n\r\n');
      if (end < 0) break;
      const h = b.subarray(0, end).toString('latin1');
      const m = /\r\ncontent-length: *(\d+)/i.exec(h);
      const len = m ? Number(m[1]) : 0;
      if (b.length < end + 4 + len) break;
      b = b.subarray(end + 4 + len);
      complete(c, h.startsWith('HTTP/1.1 200'));
    }
    c.buf = b.length ? Buffer.from(b) : EMPTY;
  };
  const conns = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<Conn>((resolve, reject) => {
          const socket = connectReading(
            u,
            (d) => received(c, d),
            () => resolve(c),
          );
          const c: Conn = { socket, busySince: -1, buf: EMPTY };
          socket.once('error', reject);
        }),
    ),
  );
  idle.push(...conns);

  const t0 = performance.now();
  let issued = 0;
  const tick = () => {
    const now = performance.now();
    // everything due by now goes out (timers fire late: latency counts from this issue time)
    while (issued < total && t0 + (issued * 1000) / rate <= now) {
      issued++;
      const c = idle.pop();
      if (c) send(c, now);
      else backlog.push(now);
    }
    if (issued < total) setTimeout(tick, Math.max(0, t0 + (issued * 1000) / rate - performance.now()));
  };
  tick();
  await finished;
  for (const c of conns) c.socket.destroy();
  if (failed) throw new Error(`${failed} of ${total} requests did not answer 200`);
  return lat;
}
