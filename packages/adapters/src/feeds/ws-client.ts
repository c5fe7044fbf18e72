import WebSocket from 'ws';
import { backoffMs } from '../bus-memory/retry.ts';
import type { FeedStats } from './provider.ts';

export interface ReconnectingOptions {
  url: string;
  stats: FeedStats;
  /** sent after every (re)connect: the subscriptions */
  onOpen(send: (msg: unknown) => void): void;
  onMessage(text: string): void;
  /** reconnect when no frame arrives for this long (heartbeats keep it alive) */
  idleTimeoutMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  log?: (msg: string) => void;
}

/**
 * A WebSocket that stays connected: jittered exponential back-off between attempts, resubscribe on
 * every open, and a watchdog that drops a silent connection.
 */
export class ReconnectingSocket {
  private ws?: WebSocket;
  private stopped = false;
  private attempt = 0;
  private watchdog?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private opened = false;
  constructor(private readonly o: ReconnectingOptions) {}

  start(): Promise<void> {
    return new Promise((resolve) => {
      this.connect(resolve);
    });
  }

  send(msg: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  private connect(onFirstOpen?: () => void): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.o.url, { handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on('open', () => {
      this.attempt = 0;
      if (this.opened) this.o.stats.reconnects++;
      this.opened = true;
      this.kick();
      this.o.onOpen((m) => ws.send(JSON.stringify(m)));
      onFirstOpen?.();
      onFirstOpen = undefined;
    });
    ws.on('message', (data) => {
      this.kick();
      this.o.onMessage(data.toString());
    });
    ws.on('error', (e) => {
      this.o.stats.errors++;
      this.o.log?.(`feed socket error: ${e.message}`);
    });
    ws.on('close', () => {
      clearTimeout(this.watchdog);
      if (this.stopped) return;
      const delay = backoffMs(++this.attempt, this.o.baseDelayMs ?? 250, this.o.maxDelayMs ?? 15_000);
      this.retryTimer = setTimeout(() => this.connect(onFirstOpen), delay);
    });
  }

  private kick(): void {
    clearTimeout(this.watchdog);
    const ms = this.o.idleTimeoutMs ?? 30_000;
    this.watchdog = setTimeout(() => this.ws?.terminate(), ms);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.watchdog);
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((r) => {
      ws.once('close', () => r());
      ws.close();
      setTimeout(() => {
        ws.terminate();
        r();
      }, 1000).unref();
    });
  }
}
