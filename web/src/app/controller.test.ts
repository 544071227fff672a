import { describe, expect, it, vi } from 'vitest';
import { GqlError } from '../lib/graphql';
import { memoryStore, Session } from '../lib/session';
import type { Message, RoomEvent } from '../lib/types';
import type { RealtimeHandlers } from '../realtime/realtime';
import { fakeFetch, gqlError, type FakeCall, type FakeHandler } from '../test/fakeFetch';
import { alice, bob, msg, room } from '../test/fixtures';
import { ChatController } from './controller';

function connection<T>(nodes: T[], pageInfo: Record<string, unknown> = {}) {
  return {
    edges: nodes.map((n, i) => ({ cursor: `c${(n as { id?: string }).id ?? i}`, node: n })),
    pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null, ...pageInfo },
  };
}

/** A fake API that serves room 7 with messages 1..n and answers everything the controller asks. */
function api(overrides: Partial<Record<string, FakeHandler>> = {}) {
  let nextId = 100;
  const sent = new Map<string, Message>();
  const handlers: Record<string, FakeHandler> = {
    Rooms: (c) =>
      c.variables.memberOnly
        ? { data: { rooms: connection([room(7)]) } }
        : { data: { rooms: connection([room(7), room(8, { isMember: false })]) } },
    Room: (c) => ({ data: { room: room(c.variables.id as string) } }),
    RoomOnline: () => ({ data: { room: { id: '7', online: [alice, bob] } } }),
    Messages: (c) =>
      c.variables.before
        ? { data: { messages: connection([msg(1), msg(2)], { hasPreviousPage: false, startCursor: 'c1' }) } }
        : { data: { messages: connection([msg(3), msg(4)], { hasPreviousPage: true, startCursor: 'c3' }) } },
    SendMessage: (c) => {
      const key = c.variables.clientId as string;
      if (!sent.has(key)) {
        sent.set(key, msg(nextId++, { author: alice, content: c.variables.content as string, clientId: key }));
      }
      return { data: { sendMessage: sent.get(key) } };
    },
    SendTyping: () => ({ data: { sendTyping: true } }),
    JoinRoom: (c) => ({ data: { joinRoom: room(c.variables.roomId as string, { isMember: true, memberCount: 2 }) } }),
    LeaveRoom: (c) => ({ data: { leaveRoom: room(c.variables.roomId as string, { isMember: false }) } }),
    CreateRoom: (c) => ({ data: { createRoom: room(50, { name: c.variables.name as string }) } }),
    ...overrides,
  };
  return fakeFetch((c: FakeCall) => {
    const h = handlers[c.op];
    if (!h) throw new Error(`unexpected ${c.op}`);
    return h(c);
  });
}

function setup(f = api(), opts: { ids?: string[]; now?: () => number } = {}) {
  const session = new Session({
    url: '/graphql',
    fetch: f,
    store: memoryStore({ accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 3_600_000, user: alice }),
  });
  let handlers: RealtimeHandlers | null = null;
  let stopped = 0;
  const ids = [...(opts.ids ?? ['c-1', 'c-2', 'c-3'])];
  const ctl = new ChatController(session, {
    startRealtime: async (_s, h) => {
      handlers = h;
      return { mode: 'IN_PROCESS', stop: () => void stopped++ };
    },
    newClientId: () => ids.shift()!,
    retryDelayMs: () => 0,
    now: opts.now,
  });
  return {
    f,
    ctl,
    get rt() {
      return handlers!;
    },
    get stopped() {
      return stopped;
    },
    ops: () => f.calls.map((c) => c.op),
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('ChatController', () => {
  it('start loads my rooms and rooms to discover, and a live stream triggers a resync', async () => {
    const t = setup();
    await t.ctl.start();
    expect(Object.keys(t.ctl.state.rooms).sort()).toEqual(['7', '8']);
    expect(t.ctl.state.discoverIds).toEqual(['7', '8']);
    t.rt.onStatus('live');
    expect(t.ctl.state.connection).toBe('live');
    const before = t.f.calls.length;
    t.rt.onLive(true);
    await vi.waitFor(() => expect(t.ops().slice(before)).toEqual(['Rooms', 'Rooms']));
    t.rt.onLive(false);
    await flush();
    expect(t.ops().slice(before)).toEqual(['Rooms', 'Rooms']);
    t.ctl.stop();
    expect(t.stopped).toBe(1);
  });

  it('openRoom loads the newest page and who is online; resync reloads the open room', async () => {
    const t = setup();
    await t.ctl.start();
    await t.ctl.openRoom('7');
    expect(t.ctl.state.messages['7'].items.map((m) => m.id)).toEqual(['3', '4']);
    expect(t.ctl.state.online['7']).toEqual([alice, bob]);
    const before = t.f.calls.length;
    await t.ctl.resync();
    expect(t.ops().slice(before).sort()).toEqual(['Messages', 'Rooms', 'Rooms']);
    t.ctl.stop();
  });

  it('loadOlder asks for the page before the oldest cursor', async () => {
    const t = setup();
    await t.ctl.start();
    await t.ctl.openRoom('7');
    expect(await t.ctl.loadOlder('7')).toBe(true);
    const call = t.f.calls.filter((c) => c.op === 'Messages').pop()!;
    expect(call.variables).toEqual({ roomId: '7', last: 50, before: 'c3' });
    expect(t.ctl.state.messages['7'].items.map((m) => m.id)).toEqual(['1', '2', '3', '4']);
    expect(await t.ctl.loadOlder('7')).toBe(false);
    t.ctl.stop();
  });

  it('degrades when the server has no Room.online', async () => {
    const t = setup(
      api({
        RoomOnline: () =>
          gqlError('GRAPHQL_VALIDATION_FAILED', 'Unknown field "online" on type "Room".'),
      }),
    );
    await t.ctl.start();
    await t.ctl.openRoom('7');
    expect(t.ctl.state.onlineSupported).toBe(false);
    expect(t.ctl.state.messages['7'].loaded).toBe(true);
    expect(t.ctl.state.notice).toBeNull();
    await t.ctl.loadOnline('7');
    expect(t.ops().filter((o) => o === 'RoomOnline')).toHaveLength(1);
    t.ctl.stop();
  });

  it('sends optimistically and reconciles the ack and the event into one message', async () => {
    const t = setup();
    await t.ctl.start();
    await t.ctl.openRoom('7');
    const p = t.ctl.send('7', 'hello');
    const items = t.ctl.state.messages['7'].items;
    expect(items[items.length - 1]).toMatchObject({ status: 'pending', clientId: 'c-1', content: 'hello' });
    await p;
    const confirmed = t.ctl.state.messages['7'].items.filter((m) => m.clientId === 'c-1');
    expect(confirmed).toMatchObject([{ id: '100', status: 'sent' }]);
    t.ctl.handleEvent({ __typename: 'MessageAdded', roomId: '7', message: confirmed[0] });
    expect(t.ctl.state.messages['7'].items.map((m) => m.id)).toEqual(['3', '4', '100']);
    expect(t.f.calls.find((c) => c.op === 'SendMessage')?.variables).toEqual({ roomId: '7', content: 'hello', clientId: 'c-1' });
    t.ctl.stop();
  });

  it('retries a transient failure automatically with the same clientId', async () => {
    let n = 0;
    const base = api();
    const t = setup(
      api({
        SendMessage: (c) => (++n === 1 ? new Response('', { status: 503 }) : ({ data: { sendMessage: msg(100, { author: alice, clientId: c.variables.clientId as string, content: 'x' }) } })),
      }),
    );
    void base;
    await t.ctl.start();
    await t.ctl.openRoom('7');
    await t.ctl.send('7', 'x');
    const sends = t.f.calls.filter((c) => c.op === 'SendMessage');
    expect(sends.map((c) => c.variables.clientId)).toEqual(['c-1', 'c-1']);
    expect(t.ctl.state.messages['7'].items.filter((m) => m.clientId === 'c-1')).toMatchObject([{ status: 'sent' }]);
    t.ctl.stop();
  });

  it('marks a refused send failed; a manual retry reuses the clientId and shows it once', async () => {
    let refuse = true;
    const t = setup(
      api({
        SendMessage: (c) =>
          refuse
            ? gqlError('FORBIDDEN', 'not a member')
            : { data: { sendMessage: msg(100, { author: alice, clientId: c.variables.clientId as string, content: 'x' }) } },
      }),
    );
    await t.ctl.start();
    await t.ctl.openRoom('7');
    await t.ctl.send('7', 'x');
    expect(t.ctl.state.messages['7'].items.filter((m) => m.clientId === 'c-1')).toMatchObject([
      { status: 'failed', error: 'not a member' },
    ]);
    refuse = false;
    await t.ctl.retry('7', 'c-1');
    expect(t.ctl.state.messages['7'].items.filter((m) => m.clientId === 'c-1')).toMatchObject([{ id: '100', status: 'sent' }]);
    expect(t.f.calls.filter((c) => c.op === 'SendMessage').map((c) => c.variables.clientId)).toEqual(['c-1', 'c-1']);
    t.ctl.stop();
  });

  it('throttles sendTyping to one call per interval per room', async () => {
    let now = 0;
    const t = setup(api(), { now: () => now });
    await t.ctl.start();
    t.ctl.typing('7');
    now = 500;
    t.ctl.typing('7');
    now = 1500;
    t.ctl.typing('7');
    t.ctl.typing('8');
    now = 2100;
    t.ctl.typing('7');
    await flush();
    expect(t.f.calls.filter((c) => c.op === 'SendTyping').map((c) => c.variables.roomId)).toEqual(['7', '8', '7']);
    t.ctl.stop();
  });

  it('fetches a room it hears about but does not know', async () => {
    const t = setup();
    await t.ctl.start();
    const ev: RoomEvent = { __typename: 'MessageAdded', roomId: '42', message: msg(9, { roomId: '42' }) };
    t.ctl.handleEvent(ev);
    t.ctl.handleEvent(ev);
    await flush();
    expect(t.f.calls.filter((c) => c.op === 'Room').map((c) => c.variables.id)).toEqual(['42']);
    expect(t.ctl.state.rooms['42']).toMatchObject({ lastMessage: { id: '9' } });
    t.ctl.stop();
  });

  it('refreshes the online list when someone joins the open room', async () => {
    const t = setup();
    await t.ctl.start();
    await t.ctl.openRoom('7');
    const before = t.ops().filter((o) => o === 'RoomOnline').length;
    t.ctl.handleEvent({ __typename: 'MemberJoined', roomId: '7', user: bob, memberCount: 2 });
    await flush();
    expect(t.ops().filter((o) => o === 'RoomOnline').length).toBe(before + 1);
    expect(t.ctl.state.rooms['7'].memberCount).toBe(2);
    t.ctl.stop();
  });

  it('join, leave and create update the room', async () => {
    const t = setup();
    await t.ctl.start();
    await t.ctl.joinRoom('8');
    expect(t.ctl.state.rooms['8']).toMatchObject({ isMember: true, memberCount: 2 });
    await t.ctl.leaveRoom('8');
    expect(t.ctl.state.rooms['8'].isMember).toBe(false);
    const r = await t.ctl.createRoom('general');
    expect(r.id).toBe('50');
    expect(t.ctl.state.rooms['50']).toMatchObject({ name: 'general', isMember: true });
    t.ctl.stop();
  });

  it('a slower, older search never overwrites a newer one', async () => {
    let release: (() => void) | null = null;
    const t = setup(
      api({
        Rooms: async (c) => {
          if (c.variables.search === 'ge') await new Promise<void>((r) => (release = r));
          return { data: { rooms: connection([room(c.variables.search === 'ge' ? 1 : 2)]) } };
        },
      }),
    );
    const first = t.ctl.search('ge');
    await flush();
    await t.ctl.search('gen');
    release!();
    await first;
    expect(t.ctl.state.search).toEqual({ query: 'gen', ids: ['2'] });
    await t.ctl.search('  ');
    expect(t.ctl.state.search.ids).toBeNull();
    t.ctl.stop();
  });

  it('shows an error notice for a failed background load', async () => {
    const t = setup(api({ Rooms: () => gqlError('INTERNAL_SERVER_ERROR', 'Internal error') }));
    await t.ctl.start();
    expect(t.ctl.state.notice?.text).toBe('Something went wrong on the server.');
    t.ctl.stop();
  });

  it('retries starting realtime when the server cannot be reached', async () => {
    const session = new Session({
      url: '/graphql',
      fetch: api(),
      store: memoryStore({ accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 3_600_000, user: alice }),
    });
    let calls = 0;
    const ctl = new ChatController(session, {
      startRealtime: async () => {
        if (++calls < 3) throw new GqlError([{ message: 'down', extensions: { code: 'NETWORK_ERROR' } }]);
        return { mode: 'IN_PROCESS', stop: () => undefined };
      },
      retryDelayMs: () => 0,
    });
    await ctl.start();
    await vi.waitFor(() => expect(calls).toBe(3));
    expect(ctl.realtimeMode).toBe('IN_PROCESS');
    expect(ctl.state.notice?.text).toMatch(/cannot be reached/);
    ctl.stop();
  });
});

describe('ChatController room presence (Centrifugo room channel)', () => {
  /** A controller whose realtime connection records `watchRoom` calls, as in Centrifugo mode. */
  function centrifugoSetup(f = api(), opts: { watchRoom?: (id: string | null) => void } = {}) {
    const session = new Session({
      url: '/graphql',
      fetch: f,
      store: memoryStore({ accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 3_600_000, user: alice }),
    });
    let handlers: RealtimeHandlers | null = null;
    const watched: (string | null)[] = [];
    let release: (() => void) | null = null;
    const ready = new Promise<void>((r) => (release = r));
    const ctl = new ChatController(session, {
      startRealtime: async (_s, h) => {
        handlers = h;
        await ready;
        return {
          mode: 'CENTRIFUGO',
          watchRoom: (id) => {
            watched.push(id);
            opts.watchRoom?.(id);
          },
          stop: () => undefined,
        };
      },
      retryDelayMs: () => 0,
      onlineRefreshDelayMs: 5,
    });
    return {
      f,
      ctl,
      watched,
      /** Lets `startRealtime` resolve (it is held back to test a late connection). */
      connect: () => release!(),
      get rt() {
        return handlers!;
      },
      onlineQueries: () => f.calls.filter((c) => c.op === 'RoomOnline').length,
    };
  }

  it('watches the open room while a member; closing, leaving or opening another room changes it', async () => {
    const t = centrifugoSetup();
    t.connect();
    await t.ctl.start();
    expect(t.watched.at(-1) ?? null).toBeNull();
    await t.ctl.openRoom('7');
    expect(t.watched.at(-1)).toBe('7');
    await t.ctl.openRoom('8'); // not a member: no presence there
    expect(t.watched.at(-1)).toBeNull();
    await t.ctl.joinRoom('8');
    expect(t.watched.at(-1)).toBe('8');
    await t.ctl.leaveRoom('8');
    expect(t.watched.at(-1)).toBeNull();
    await t.ctl.openRoom('7');
    expect(t.watched.at(-1)).toBe('7');
    await t.ctl.openRoom(null);
    expect(t.watched.at(-1)).toBeNull();
    // Only changes are passed on (the connection ignores repeats anyway).
    expect(t.watched.filter((id, i) => id === t.watched[i - 1])).toEqual([]);
    t.ctl.stop();
  });

  it('a connection that comes up after the room was opened watches it at once', async () => {
    const t = centrifugoSetup();
    const started = t.ctl.start();
    await t.ctl.openRoom('7');
    expect(t.watched).toEqual([]);
    t.connect();
    await started;
    expect(t.watched).toEqual(['7']);
    t.ctl.stop();
  });

  it('join/leave in the open room refreshes the online list once per burst; other rooms are ignored', async () => {
    let online = [alice];
    const t = centrifugoSetup(api({ RoomOnline: () => ({ data: { room: { id: '7', online } } }) }));
    t.connect();
    await t.ctl.start();
    await t.ctl.openRoom('7');
    expect(t.ctl.state.online['7']).toEqual([alice]);
    const before = t.onlineQueries();
    online = [alice, bob];
    t.rt.onRoomPresence!('7', { kind: 'subscribed' });
    t.rt.onRoomPresence!('7', { kind: 'join', userId: bob.id });
    t.rt.onRoomPresence!('7', { kind: 'join', userId: bob.id });
    await vi.waitFor(() => expect(t.ctl.state.online['7']).toEqual([alice, bob]));
    expect(t.onlineQueries()).toBe(before + 1);

    t.rt.onRoomPresence!('8', { kind: 'join', userId: bob.id });
    await new Promise((r) => setTimeout(r, 20));
    expect(t.onlineQueries()).toBe(before + 1);

    online = [alice];
    t.rt.onRoomPresence!('7', { kind: 'leave', userId: bob.id });
    await vi.waitFor(() => expect(t.ctl.state.online['7']).toEqual([alice]));
    expect(t.onlineQueries()).toBe(before + 2);
    t.ctl.stop();
  });

  it('a failing watchRoom does not break opening a room', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const t = centrifugoSetup(api(), {
      watchRoom: () => {
        throw new Error('boom');
      },
    });
    t.connect();
    await t.ctl.start();
    await t.ctl.openRoom('7');
    expect(t.ctl.state.messages['7'].items.map((m) => m.id)).toEqual(['3', '4']);
    expect(t.ctl.state.online['7']).toEqual([alice, bob]);
    expect(t.ctl.state.notice).toBeNull();
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
    t.ctl.stop();
  });
});
