import { describe, expect, it, vi } from 'vitest';
import { memoryStore, Session } from '../lib/session';
import type { RoomEvent } from '../lib/types';
import { fakeFetch } from '../test/fakeFetch';
import { alice } from '../test/fixtures';
import { startRealtime, type RealtimeStatus } from './realtime';

type Cmd = { id: number; connect?: { token?: string }; subscribe?: { channel: string; recover?: boolean; token?: string } };

/** A WebSocket double speaking Centrifugo's JSON protocol (newline-separated frames). */
class FakeCentrifugoSocket {
  static all: FakeCentrifugoSocket[] = [];
  static subscribeReply: (cmd: Cmd) => Record<string, unknown> = () => ({});
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
      else if (cmd.subscribe) this.reply({ id: cmd.id, subscribe: FakeCentrifugoSocket.subscribeReply(cmd) });
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
}

function setup() {
  FakeCentrifugoSocket.all = [];
  let tokens = 0;
  const f = fakeFetch((c) => {
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
  const start = () =>
    startRealtime(
      session,
      { onEvent: (e) => events.push(e), onLive: (l) => lives.push(l), onStatus: (s) => statuses.push(s) },
      { centrifuge: { websocket: FakeCentrifugoSocket, minReconnectDelay: 1, maxReconnectDelay: 5 } },
    );
  return { f, start, events, lives, statuses };
}

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
