import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { connectReading, EMPTY } from './read-buffer.ts';

/**
 * A minimal WebSocket client for the fan-out benchmark: thousands of them share the load process
 * with nothing but a TCP socket and a frame scanner each, so the figure is the server's delivery
 * rather than a client library's parsing. Sockets are read into one shared buffer (`connectReading`),
 * which spares each frame a readable stream's `data` event and a Buffer of its own. Text frames are
 * handed over as Buffers valid only during the call; pings are answered.
 */
export class RawWsClient {
  private buf: Buffer = EMPTY;
  private open = false;
  constructor(
    private readonly socket: net.Socket,
    private readonly onText: (payload: Buffer) => void,
  ) {}

  static connect(url: string, onText: (payload: Buffer) => void): Promise<RawWsClient> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      // until the handshake is answered, reads go to `handshake` (below), then to the frame scanner
      const socket = connectReading(u, (d) => (c.open ? c.frames(d) : handshake(d)));
      const c = new RawWsClient(socket, onText);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(
          `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      const handshake = (d: Buffer) => {
        const all = c.buf.length ? Buffer.concat([c.buf, d]) : d;
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) {
          c.buf = Buffer.from(all); // a copy: `d` is the shared read buffer
          return;
        }
        const head = all.subarray(0, end).toString();
        if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`handshake refused: ${head.split('\r\n')[0]}`));
        c.open = true;
        c.buf = EMPTY;
        socket.off('error', reject);
        socket.on('error', () => {});
        resolve(c);
        if (all.length > end + 4) c.frames(all.subarray(end + 4));
      };
    });
  }

  /** a masked text frame (clients must mask, RFC 6455 §5.3) */
  sendText(text: string): void {
    this.send(0x1, Buffer.from(text));
  }

  private send(opcode: number, payload: Buffer): void {
    const n = payload.length;
    const head = n < 126 ? 2 : 4;
    const f = Buffer.allocUnsafe(head + 4 + n);
    f[0] = 0x80 | opcode;
    if (n < 126) f[1] = 0x80 | n;
    else {
      f[1] = 0x80 | 126;
      f.writeUInt16BE(n, 2);
    }
    const mask = randomBytes(4);
    mask.copy(f, head);
    for (let i = 0; i < n; i++) f[head + 4 + i] = payload[i]! ^ mask[i & 3]!;
    this.socket.write(f);
  }

  private frames(d: Buffer): void {
    const b = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let off = 0;
    for (;;) {
      if (b.length - off < 2) break;
      const op = b[off]! & 0x0f;
      let len = b[off + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (b.length - off < 4) break;
        len = b.readUInt16BE(off + 2);
        head = 4;
      } else if (len === 127) {
        if (b.length - off < 10) break;
        len = Number(b.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (b.length - off < head + len) break;
      const payload = b.subarray(off + head, off + head + len);
      if (op === 0x1) this.onText(payload);
      else if (op === 0x9) this.send(0xa, Buffer.from(payload));
      off += head + len;
    }
    // a copy: `d` is the shared read buffer
    this.buf = off < b.length ? Buffer.from(b.subarray(off)) : EMPTY;
  }

  get isOpen(): boolean {
    return this.open && !this.socket.destroyed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
