// The live-events connection (`/api/ws`, host/src/events/mod.rs): one JSON event per frame.
//
// After a drop it reconnects with `?since=<largest id received>`, so the server replays what was
// missed; ids already delivered are skipped, so a listener sees each event once even if the replay and
// the live stream overlap. Reconnects back off from 0.5 s up to 15 s, and a close with code 1008 (the
// login was revoked or expired) stops it and reports the session as over.

import type { StoredEvent } from './types';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number): void;
}

export interface EventStreamOptions {
  /** Makes a socket for a URL; the browser's WebSocket unless a test gives another. */
  connect?: (url: string) => SocketLike;
  /** The page's origin, to make the ws:// or wss:// address. */
  origin?: string;
  onEvent: (event: StoredEvent) => void;
  onState?: (state: ConnectionState) => void;
  onLoggedOut?: () => void;
  /** Schedules a reconnect; `setTimeout` unless a test gives another. */
  schedule?: (run: () => void, ms: number) => unknown;
}

const POLICY_VIOLATION = 1008;
const MAX_BACKOFF_MS = 15_000;
/** How many delivered ids are remembered to drop duplicates (the server's own window is 2048). */
const REMEMBERED = 4096;

/** Remembers the delivered ids; `since` is the largest. */
export class SeenIds {
  private readonly ids = new Set<number>();
  private readonly order: number[] = [];
  since: number | null = null;

  /** Whether `id` is new; records it when it is. */
  admit(id: number): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    this.order.push(id);
    if (this.order.length > REMEMBERED) {
      const oldest = this.order.shift();
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    if (this.since === null || id > this.since) this.since = id;
    return true;
  }
}

export function wsUrl(origin: string, since: number | null): string {
  const url = new URL('/api/ws', origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (since !== null) url.searchParams.set('since', String(since));
  return url.toString();
}

function parse(data: unknown): StoredEvent | null {
  if (typeof data !== 'string') return null;
  try {
    const value = JSON.parse(data) as StoredEvent;
    return typeof value.id === 'number' && typeof value.type === 'string' ? value : null;
  } catch {
    return null;
  }
}

export class EventStream {
  readonly seen = new SeenIds();
  private socket: SocketLike | null = null;
  private stopped = false;
  private attempts = 0;

  constructor(private readonly options: EventStreamOptions) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close(1000);
    this.socket = null;
    this.options.onState?.('closed');
  }

  private open(): void {
    const connect = this.options.connect ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
    const origin = this.options.origin ?? window.location.origin;
    this.options.onState?.(this.attempts === 0 ? 'connecting' : 'reconnecting');
    const socket = connect(wsUrl(origin, this.seen.since));
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.options.onState?.('open');
    };
    socket.onmessage = (message) => {
      const event = parse(message.data);
      if (event && this.seen.admit(event.id)) this.options.onEvent(event);
    };
    socket.onerror = () => undefined;
    socket.onclose = (close) => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      if (close.code === POLICY_VIOLATION) {
        this.options.onState?.('closed');
        this.options.onLoggedOut?.();
        return;
      }
      this.attempts += 1;
      this.options.onState?.('reconnecting');
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.attempts - 1));
      const schedule = this.options.schedule ?? ((run, ms) => setTimeout(run, ms));
      schedule(() => {
        if (!this.stopped) this.open();
      }, delay);
    };
  }
}
