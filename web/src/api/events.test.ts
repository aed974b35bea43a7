import { describe, expect, it } from 'vitest';
import { EventStream, SeenIds, wsUrl, type SocketLike } from './events';
import type { StoredEvent } from './types';

class FakeSocket implements SocketLike {
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  closed: number | null = null;
  constructor(readonly url: string) {}
  close(code?: number) {
    this.closed = code ?? 1000;
  }
  send(event: Partial<StoredEvent> & { id: number }) {
    this.onmessage?.({ data: JSON.stringify({ type: 'agent:message', data: {}, at: '', ...event }) });
  }
}

function harness() {
  const sockets: FakeSocket[] = [];
  const received: number[] = [];
  const states: string[] = [];
  const pending: (() => void)[] = [];
  const delays: number[] = [];
  let loggedOut = 0;
  const stream = new EventStream({
    origin: 'https://vibe.example',
    connect: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    onEvent: (e) => received.push(e.id),
    onState: (s) => states.push(s),
    onLoggedOut: () => (loggedOut += 1),
    schedule: (run, ms) => {
      delays.push(ms);
      pending.push(run);
    },
  });
  return { stream, sockets, received, states, pending, delays, loggedOut: () => loggedOut };
}

describe('wsUrl', () => {
  it('uses wss for https and adds since', () => {
    expect(wsUrl('https://vibe.example', null)).toBe('wss://vibe.example/api/ws');
    expect(wsUrl('http://127.0.0.1:8080', 42)).toBe('ws://127.0.0.1:8080/api/ws?since=42');
  });
});

describe('SeenIds', () => {
  it('admits each id once and tracks the largest', () => {
    const seen = new SeenIds();
    expect(seen.admit(5)).toBe(true);
    expect(seen.admit(3)).toBe(true);
    expect(seen.admit(5)).toBe(false);
    expect(seen.since).toBe(5);
  });
});

describe('EventStream', () => {
  it('reconnects with since= the largest id and drops replayed duplicates', () => {
    const h = harness();
    h.stream.start();
    expect(h.sockets[0].url).toBe('wss://vibe.example/api/ws');
    h.sockets[0].onopen?.({});
    h.sockets[0].send({ id: 10 });
    h.sockets[0].send({ id: 12 });
    h.sockets[0].send({ id: 12 });
    h.sockets[0].onclose?.({ code: 1006 });
    expect(h.states).toContain('reconnecting');
    expect(h.pending).toHaveLength(1);
    h.pending[0]();
    expect(h.sockets[1].url).toBe('wss://vibe.example/api/ws?since=12');
    // The replay overlaps what was already delivered.
    h.sockets[1].send({ id: 12 });
    h.sockets[1].send({ id: 15 });
    h.sockets[1].send({ id: 10 });
    h.sockets[1].send({ id: 17 });
    expect(h.received).toEqual([10, 12, 15, 17]);
  });

  it('backs off between failed attempts and resets after a connection opens', () => {
    const h = harness();
    h.stream.start();
    h.sockets[0].onclose?.({ code: 1006 });
    h.pending.shift()?.();
    h.sockets[1].onclose?.({ code: 1006 });
    h.pending.shift()?.();
    h.sockets[2].onopen?.({});
    h.sockets[2].onclose?.({ code: 1001 });
    expect(h.delays).toEqual([500, 1000, 500]);
  });

  it('stops and reports the login over on close code 1008', () => {
    const h = harness();
    h.stream.start();
    h.sockets[0].onclose?.({ code: 1008 });
    expect(h.pending).toHaveLength(0);
    expect(h.loggedOut()).toBe(1);
    expect(h.states.at(-1)).toBe('closed');
  });

  it('ignores malformed frames and does not reconnect after stop', () => {
    const h = harness();
    h.stream.start();
    h.sockets[0].onmessage?.({ data: 'not json' });
    h.sockets[0].onmessage?.({ data: JSON.stringify({ hello: 1 }) });
    expect(h.received).toEqual([]);
    h.stream.stop();
    expect(h.sockets[0].closed).toBe(1000);
    h.sockets[0].onclose?.({ code: 1000 });
    expect(h.pending).toHaveLength(0);
  });
});
