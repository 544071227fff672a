import { describe, expect, it, vi } from 'vitest';
import { memoryStore, Session } from '../lib/session';
import type { RoomEvent } from '../lib/types';
import { fakeFetch, gqlError } from '../test/fakeFetch';
import { alice, msg } from '../test/fixtures';
import { graphqlWsUrl, startRealtime, type RealtimeStatus } from './realtime';

type Frame = { type: string; id?: string; payload?: Record<string, unknown> };

/** A WebSocket double that speaks graphql-transport-ws through a scripted server. */
class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static all: FakeSocket[] = [];
  static server: (socket: FakeSocket, frame: Frame) => void = () => undefined;

  readyState = FakeSocket.CONNECTING;
  sent: Frame[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocol: string,
  ) {
    FakeSocket.all.push(this);
    setTimeout(() => {
      this.readyState = FakeSocket.OPEN;
      this.onopen?.({});
    }, 0);
  }

  send(data: string) {
    const frame = JSON.parse(data) as Frame;
    this.sent.push(frame);
    FakeSocket.server(this, frame);
  }

  close(code = 1000, reason = '') {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.({ code, reason });
  }

  /** Server side: send a frame to the client. */
  push(frame: Frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

function setup(validTokens: Set<string>, opts: { noRealtimeField?: boolean } = {}) {
  FakeSocket.all = [];
  let next = 100;
  const f = fakeFetch((c) => {
    if (c.op === 'Realtime') {
      if (opts.noRealtimeField) return gqlError('GRAPHQL_VALIDATION_FAILED', 'Unknown field "realtime" on type "Query".');
      return {
        data: { realtime: { mode: 'IN_PROCESS', centrifugoUrl: null, connectionToken: null, personalChannel: 'personal:#1' } },
      };
    }
    if (c.op === 'RefreshToken') {
      const n = next++;
      validTokens.add(`a${n}`);
      return { data: { refreshToken: { accessToken: `a${n}`, refreshToken: `r${n}`, expiresIn: 900, user: alice } } };
    }
    throw new Error(c.op);
  });
  const session = new Session({
    url: '/graphql',
    fetch: f,
    store: memoryStore({ accessToken: 'a1', refreshToken: 'r1', expiresAt: Date.now() + 600_000, user: alice }),
  });
  const subscriptions = new Map<FakeSocket, string>();
  FakeSocket.server = (socket, frame) => {
    if (frame.type === 'connection_init') {
      const auth = String(frame.payload?.authorization ?? '');
      if (validTokens.has(auth.replace(/^Bearer /, ''))) socket.push({ type: 'connection_ack' });
      else socket.close(4401, 'Unauthorized');
    } else if (frame.type === 'subscribe') {
      subscriptions.set(socket, frame.id!);
    }
  };
  const events: RoomEvent[] = [];
  const lives: boolean[] = [];
  const statuses: RealtimeStatus[] = [];
  const handlers = {
    onEvent: (e: RoomEvent) => events.push(e),
    onLive: (lost: boolean) => lives.push(lost),
    onStatus: (s: RealtimeStatus) => statuses.push(s),
  };
  const start = () =>
    startRealtime(session, handlers, { wsUrl: 'ws://test/graphql', webSocketImpl: FakeSocket, backoff: () => 0 });
  /** Server side: publish an event to the socket's subscription. */
  const publish = (socket: FakeSocket, myEvents: unknown) =>
    socket.push({ type: 'next', id: subscriptions.get(socket), payload: { data: { myEvents } } });
  return { f, session, start, publish, events, lives, statuses, subscriptions };
}

const eventJson = {
  __typename: 'MessageAdded',
  roomId: '7',
  message: { ...msg(5), author: { id: '2', username: 'bob' } },
};

describe('graphql-ws realtime', () => {
  it('authenticates in connection_init, subscribes to myEvents and delivers events', async () => {
    const t = setup(new Set(['a1']));
    const rt = await t.start();
    expect(rt.mode).toBe('IN_PROCESS');
    await vi.waitFor(() => expect(t.subscriptions.size).toBe(1));
    const [socket] = FakeSocket.all;
    expect(socket.url).toBe('ws://test/graphql');
    expect(socket.protocol).toBe('graphql-transport-ws');
    expect(socket.sent[0]).toEqual({ type: 'connection_init', payload: { authorization: 'Bearer a1' } });
    expect(String(socket.sent[1].payload?.query)).toMatch(/subscription MyEvents/);
    expect(t.lives).toEqual([true]);
    t.publish(socket, eventJson);
    expect(t.events).toHaveLength(1);
    expect(t.events[0]).toMatchObject({ __typename: 'MessageAdded', roomId: '7', message: { id: '5' } });
    rt.stop();
    expect(t.statuses.at(-1)).toBe('stopped');
  });

  it('on close 4401 refreshes the token and reconnects with it', async () => {
    const t = setup(new Set());
    const rt = await t.start();
    await vi.waitFor(() => expect(t.subscriptions.size).toBe(1));
    expect(FakeSocket.all.map((s) => s.sent[0].payload?.authorization)).toEqual(['Bearer a1', 'Bearer a100']);
    expect(t.f.calls.filter((c) => c.op === 'RefreshToken')).toHaveLength(1);
    expect(t.session.value?.accessToken).toBe('a100');
    rt.stop();
  });

  it('reconnects after the server drops the socket and reports the possible gap', async () => {
    const t = setup(new Set(['a1']));
    const rt = await t.start();
    await vi.waitFor(() => expect(t.subscriptions.size).toBe(1));
    FakeSocket.all[0].close(1011, 'going away');
    await vi.waitFor(() => expect(t.subscriptions.size).toBe(2));
    expect(t.lives).toEqual([true, true]);
    expect(t.statuses).toContain('reconnecting');
    const second = FakeSocket.all.at(-1)!;
    t.publish(second, eventJson);
    expect(t.events).toHaveLength(1);
    rt.stop();
  });

  it('stops reconnecting once signed out', async () => {
    const t = setup(new Set(['a1']));
    const rt = await t.start();
    await vi.waitFor(() => expect(t.subscriptions.size).toBe(1));
    t.session.signOut();
    FakeSocket.all[0].close(4401, 'Unauthorized');
    await new Promise((r) => setTimeout(r, 20));
    expect(t.statuses.at(-1)).toBe('stopped');
    rt.stop();
  });

  it('falls back to myEvents when the server rejects the realtime query', async () => {
    const t = setup(new Set(['a1']), { noRealtimeField: true });
    const rt = await t.start();
    expect(rt.mode).toBe('IN_PROCESS');
    await vi.waitFor(() => expect(t.subscriptions.size).toBe(1));
    rt.stop();
  });

  it('derives the socket URL from the page', () => {
    expect(graphqlWsUrl({ protocol: 'http:', host: 'localhost:8080' })).toBe('ws://localhost:8080/graphql');
    expect(graphqlWsUrl({ protocol: 'https:', host: 'chat.example' })).toBe('wss://chat.example/graphql');
  });
});
