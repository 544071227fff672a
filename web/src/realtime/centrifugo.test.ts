import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryStore, Session } from '../lib/session';
import type { RoomEvent } from '../lib/types';
import { fakeFetch, gqlError, type FakeCall } from '../test/fakeFetch';
import { alice } from '../test/fixtures';
import { startRealtime, type RealtimeStatus, type RoomPresenceChange } from './realtime';

type Cmd = {
  id: number;
  connect?: { token?: string };
  subscribe?: { channel: string; recover?: boolean; token?: string };
  unsubscribe?: { channel: string };
};

/** A WebSocket double speaking Centrifugo's JSON protocol (newline-separated frames). */
class FakeCentrifugoSocket {
  static all: FakeCentrifugoSocket[] = [];
  static subscribeReply: (cmd: Cmd) => Record<string, unknown> = () => ({});
  /** An error reply to a subscribe command instead of a result (e.g. 103 permission denied). */
  static subscribeError: (cmd: Cmd) => { code: number; message: string } | null = () => null;
  readyState = 0;
  commands: Cmd[] = [];
  onopen: (() => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeCentrifugoSocket.all.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.();
    }, 0);
  }

  send(data: string) {
    for (const line of data.split('\n').filter(Boolean)) {
      const cmd = JSON.parse(line) as Cmd;
      this.commands.push(cmd);
      if (cmd.connect) this.reply({ id: cmd.id, connect: { client: 'c1', version: '6.0.0', ping: 25, pong: true } });
      else if (cmd.subscribe) {
        const error = FakeCentrifugoSocket.subscribeError(cmd);
        this.reply(error ? { id: cmd.id, error } : { id: cmd.id, subscribe: FakeCentrifugoSocket.subscribeReply(cmd) });
      } else if (cmd.unsubscribe) this.reply({ id: cmd.id, unsubscribe: {} });
    }
  }

  reply(obj: unknown) {
    setTimeout(() => this.onmessage?.({ data: JSON.stringify(obj) }), 0);
  }

  close() {
    this.drop(1000, '');
  }

  /** Server side: drop the connection (3000–3499: client reconnects). */
  drop(code: number, reason: string) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  publish(channel: string, data: unknown) {
    this.reply({ push: { channel, pub: { data, offset: 1 } } });
  }

  /** Server side: a join or leave push (force_push_join_leave). */
  presence(channel: string, kind: 'join' | 'leave', user: string) {
    this.reply({ push: { channel, [kind]: { info: { user, client: `client-${user}` } } } });
  }

  /** Channels subscribed minus those unsubscribed, in order. */
  channels(): string[] {
    const out: string[] = [];
    for (const c of this.commands) {
      if (c.subscribe) out.push(c.subscribe.channel);
      if (c.unsubscribe) out.splice(out.indexOf(c.unsubscribe.channel), 1);
    }
    return out;
  }
}

function setup(roomToken: (c: FakeCall) => unknown = (c) => ({
  data: { roomChannelToken: { channel: `room:${c.variables.roomId}`, token: `rt-${c.variables.roomId}-${c.token}` } },
})) {
  FakeCentrifugoSocket.all = [];
  let tokens = 0;
  let refreshes = 0;
  const f = fakeFetch((c) => {
    if (c.op === 'RoomChannelToken') return roomToken(c);
    if (c.op === 'RefreshToken') {
      const n = ++refreshes;
      return { data: { refreshToken: { accessToken: `a1${n}`, refreshToken: `r1${n}`, expiresIn: 900, user: alice } } };
    }
    if (c.op === 'Realtime') {
      return {
        data: {
          realtime: { mode: 'CENTRIFUGO', centrifugoUrl: 'ws://cf/connection/websocket', connectionToken: 'ct0', personalChannel: 'personal:#1' },
        },
      };
    }
    if (c.op === 'RealtimeToken') return { data: { realtime: { connectionToken: `ct${++tokens}` } } };
    throw new Error(c.op);
  });
  const session = new Session({
    url: '/graphql',
    fetch: f,
    store: memoryStore({ accessToken: 'a1', refreshToken: 'r1', expiresAt: Date.now() + 600_000, user: alice }),
  });
  const events: RoomEvent[] = [];
  const lives: boolean[] = [];
  const statuses: RealtimeStatus[] = [];
  const presence: [string, RoomPresenceChange][] = [];
  const start = () =>
    startRealtime(
      session,
      {
        onEvent: (e) => events.push(e),
        onLive: (l) => lives.push(l),
        onStatus: (s) => statuses.push(s),
        onRoomPresence: (roomId, change) => presence.push([roomId, change]),
      },
      {
        centrifuge: { websocket: FakeCentrifugoSocket, minReconnectDelay: 1, maxReconnectDelay: 5 },
        roomSubscription: { minResubscribeDelay: 1, maxResubscribeDelay: 5 },
      },
    );
  return { f, session, start, events, lives, statuses, presence };
}

afterEach(() => {
  FakeCentrifugoSocket.subscribeReply = () => ({});
  FakeCentrifugoSocket.subscribeError = () => null;
  vi.restoreAllMocks();
});

const typing = (roomId: string) => ({ __typename: 'Typing', roomId, user: { id: '2', username: 'bob' } });

describe('Centrifugo realtime', () => {
  it('connects with the token, subscribes to the personal channel and delivers publications', async () => {
    FakeCentrifugoSocket.subscribeReply = () => ({ recoverable: true, epoch: 'e', offset: 0 });
    const t = setup();
    const rt = await t.start();
    expect(rt.mode).toBe('CENTRIFUGO');
    await vi.waitFor(() => expect(t.lives).toEqual([true]));
    const [socket] = FakeCentrifugoSocket.all;
    expect(socket.url).toBe('ws://cf/connection/websocket');
    expect(socket.commands[0].connect?.token).toBe('ct0');
    expect(socket.commands[1].subscribe).toMatchObject({ channel: 'personal:#1' });
    expect(socket.commands[1].subscribe?.token).toBeUndefined();
    socket.publish('personal:#1', { __typename: 'Typing', roomId: '7', user: { id: '2', username: 'bob', createdAt: 'x' } });
    await vi.waitFor(() => expect(t.events).toEqual([{ __typename: 'Typing', roomId: '7', user: { id: '2', username: 'bob' } }]));
    rt.stop();
  });

  it('after a reconnect that could not recover, asks for a refetch; after one that did, not', async () => {
    let recovered = false;
    FakeCentrifugoSocket.subscribeReply = (cmd) =>
      cmd.subscribe?.recover
        ? { recoverable: true, epoch: 'e', offset: 1, was_recovering: true, recovered }
        : { recoverable: true, epoch: 'e', offset: 0 };
    const t = setup();
    const rt = await t.start();
    await vi.waitFor(() => expect(t.lives).toEqual([true]));
    FakeCentrifugoSocket.all[0].publish('personal:#1', { __typename: 'Typing', roomId: '7', user: { id: '2', username: 'b' } });
    await vi.waitFor(() => expect(t.events).toHaveLength(1));

    recovered = true;
    FakeCentrifugoSocket.all.at(-1)!.drop(3001, 'shutdown');
    await vi.waitFor(() => expect(t.lives).toEqual([true, false]));

    recovered = false;
    FakeCentrifugoSocket.all.at(-1)!.drop(3001, 'shutdown');
    await vi.waitFor(() => expect(t.lives).toEqual([true, false, true]));
    expect(FakeCentrifugoSocket.all.length).toBe(3);
    rt.stop();
  });
});

describe('Centrifugo room channel (presence)', () => {
  it('subscribes to room:<id> with the roomChannelToken token and reports join/leave', async () => {
    const t = setup();
    const rt = await t.start();
    await vi.waitFor(() => expect(t.lives).toEqual([true]));
    const [socket] = FakeCentrifugoSocket.all;
    rt.watchRoom!('7');
    await vi.waitFor(() => expect(t.presence).toEqual([['7', { kind: 'subscribed' }]]));
    expect(t.f.calls.filter((c) => c.op === 'RoomChannelToken').map((c) => c.variables)).toEqual([{ roomId: '7' }]);
    expect(socket.commands.find((c) => c.subscribe?.channel === 'room:7')?.subscribe?.token).toBe('rt-7-a1');
    expect(socket.channels()).toEqual(['personal:#1', 'room:7']);

    socket.presence('room:7', 'join', '2');
    socket.presence('room:7', 'leave', '2');
    await vi.waitFor(() => expect(t.presence).toHaveLength(3));
    expect(t.presence.slice(1)).toEqual([
      ['7', { kind: 'join', userId: '2' }],
      ['7', { kind: 'leave', userId: '2' }],
    ]);

    // The room channel's publications are not events: the personal channel brings them.
    socket.publish('room:7', typing('7'));
    socket.publish('personal:#1', typing('7'));
    await vi.waitFor(() => expect(t.events).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 10));
    expect(t.events).toHaveLength(1);

    // The same room again changes nothing.
    rt.watchRoom!('7');
    await new Promise((r) => setTimeout(r, 10));
    expect(t.f.calls.filter((c) => c.op === 'RoomChannelToken')).toHaveLength(1);
    rt.stop();
    expect(socket.channels()).toEqual([]);
  });

  it('another room replaces the watched one; null leaves it', async () => {
    const t = setup();
    const rt = await t.start();
    rt.watchRoom!('7'); // before the connection is up: subscribes once it is
    await vi.waitFor(() => expect(t.presence).toEqual([['7', { kind: 'subscribed' }]]));
    const [socket] = FakeCentrifugoSocket.all;
    rt.watchRoom!('8');
    await vi.waitFor(() => expect(socket.channels()).toEqual(['personal:#1', 'room:8']));
    await vi.waitFor(() => expect(t.presence.at(-1)).toEqual(['8', { kind: 'subscribed' }]));
    // A late join on the old room is not reported.
    socket.presence('room:7', 'join', '3');
    rt.watchRoom!(null);
    await vi.waitFor(() => expect(socket.channels()).toEqual(['personal:#1']));
    socket.presence('room:8', 'join', '3');
    await new Promise((r) => setTimeout(r, 10));
    expect(t.presence).toEqual([
      ['7', { kind: 'subscribed' }],
      ['8', { kind: 'subscribed' }],
    ]);
    rt.stop();
  });

  it('refreshes the access token when roomChannelToken answers UNAUTHENTICATED', async () => {
    const t = setup((c) =>
      c.token === 'a1'
        ? gqlError('UNAUTHENTICATED', 'expired')
        : { data: { roomChannelToken: { channel: 'room:7', token: `rt-${c.token}` } } },
    );
    const rt = await t.start();
    rt.watchRoom!('7');
    await vi.waitFor(() => expect(t.presence).toEqual([['7', { kind: 'subscribed' }]]));
    expect(t.f.calls.filter((c) => c.op === 'RefreshToken')).toHaveLength(1);
    const socket = FakeCentrifugoSocket.all[0];
    expect(socket.commands.find((c) => c.subscribe?.channel === 'room:7')?.subscribe?.token).toBe('rt-a11');
    rt.stop();
  });

  it('a refused token only logs; the personal channel keeps working and other rooms still work', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const t = setup((c) =>
      c.variables.roomId === '7'
        ? gqlError('FORBIDDEN', 'not a member')
        : { data: { roomChannelToken: { channel: `room:${c.variables.roomId}`, token: 'ok' } } },
    );
    const rt = await t.start();
    await vi.waitFor(() => expect(t.lives).toEqual([true]));
    rt.watchRoom!('7');
    await vi.waitFor(() => expect(warn).toHaveBeenCalled());
    await new Promise((r) => setTimeout(r, 50)); // resubscribe delays are 1–5 ms here
    const socket = FakeCentrifugoSocket.all[0];
    expect(socket.channels()).toEqual(['personal:#1']);
    expect(t.f.calls.filter((c) => c.op === 'RoomChannelToken')).toHaveLength(1); // not retried
    expect(t.presence).toEqual([]);
    socket.publish('personal:#1', typing('7'));
    await vi.waitFor(() => expect(t.events).toHaveLength(1));
    rt.watchRoom!('8');
    await vi.waitFor(() => expect(t.presence).toEqual([['8', { kind: 'subscribed' }]]));
    expect(t.statuses).not.toContain('stopped');
    rt.stop();
  });

  it('a transient failure of roomChannelToken is retried', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    let n = 0;
    const t = setup(() =>
      ++n < 3
        ? new Response('', { status: 503 })
        : { data: { roomChannelToken: { channel: 'room:7', token: 'ok' } } },
    );
    const rt = await t.start();
    rt.watchRoom!('7');
    await vi.waitFor(() => expect(t.presence).toEqual([['7', { kind: 'subscribed' }]]));
    expect(t.f.calls.filter((c) => c.op === 'RoomChannelToken')).toHaveLength(3);
    expect(warn).toHaveBeenCalled();
    rt.stop();
  });

  it('a subscribe refused by Centrifugo only logs', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    FakeCentrifugoSocket.subscribeError = (cmd) =>
      cmd.subscribe?.channel === 'room:7' ? { code: 103, message: 'permission denied' } : null;
    const t = setup();
    const rt = await t.start();
    rt.watchRoom!('7');
    await vi.waitFor(() => expect(warn).toHaveBeenCalled());
    const socket = FakeCentrifugoSocket.all[0];
    await vi.waitFor(() => expect(t.lives).toEqual([true]));
    socket.publish('personal:#1', typing('7'));
    await vi.waitFor(() => expect(t.events).toHaveLength(1));
    expect(t.presence).toEqual([]);
    rt.watchRoom!(null);
    rt.stop();
  });
});
