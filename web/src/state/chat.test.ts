import { describe, expect, it } from 'vitest';
import type { RoomEvent } from '../lib/types';
import { alice, bob, msg, room } from '../test/fixtures';
import {
  chatReducer,
  discoverRooms,
  initialState,
  lastSeenId,
  mergeMessages,
  myRooms,
  searchResults,
  TYPING_TTL_MS,
  typingUsers,
  type ChatAction,
  type ChatState,
} from './chat';

const T0 = Date.UTC(2026, 0, 2);

function run(state: ChatState, ...actions: ChatAction[]): ChatState {
  return actions.reduce(chatReducer, state);
}

function ids(s: ChatState, roomId = '7'): string[] {
  return (s.messages[roomId]?.items ?? []).map((m) => m.id);
}

const added = (m: ReturnType<typeof msg>): RoomEvent => ({ __typename: 'MessageAdded', roomId: m.roomId, message: m });

function withRoom(...extra: ChatAction[]): ChatState {
  return run(initialState(alice), { type: 'roomsLoaded', rooms: [room(7)] }, ...extra);
}

describe('history pages', () => {
  it('loads the newest page in id order and remembers the older cursor', () => {
    const s = withRoom({
      type: 'historyLoaded',
      roomId: '7',
      kind: 'latest',
      messages: [msg(12), msg(10), msg(11)],
      olderCursor: 'c10',
      hasOlder: true,
    });
    expect(ids(s)).toEqual(['10', '11', '12']);
    expect(s.messages['7']).toMatchObject({ olderCursor: 'c10', hasOlder: true, loaded: true });
    expect(s.rooms['7'].lastMessage?.id).toBe('12');
  });

  it('prepends older pages without duplicates and moves the cursor', () => {
    const s = withRoom(
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(10), msg(11)], olderCursor: 'c10', hasOlder: true },
      { type: 'historyLoaded', roomId: '7', kind: 'older', messages: [msg(8), msg(9), msg(10)], olderCursor: 'c8', hasOlder: false },
    );
    expect(ids(s)).toEqual(['8', '9', '10', '11']);
    expect(s.messages['7']).toMatchObject({ olderCursor: 'c8', hasOlder: false });
  });

  it('merges a reloaded newest page that overlaps, keeping the older cursor', () => {
    const s = withRoom(
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(10), msg(11)], olderCursor: 'c10', hasOlder: true },
      { type: 'historyLoaded', roomId: '7', kind: 'older', messages: [msg(8), msg(9)], olderCursor: 'c8', hasOlder: true },
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(11), msg(12), msg(13)], olderCursor: 'c11', hasOlder: true },
    );
    expect(ids(s)).toEqual(['8', '9', '10', '11', '12', '13']);
    expect(s.messages['7'].olderCursor).toBe('c8');
  });

  it('starts over from a reloaded newest page that leaves a gap', () => {
    const s = withRoom(
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(10), msg(11)], olderCursor: 'c10', hasOlder: true },
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(50), msg(51)], olderCursor: 'c50', hasOlder: true },
    );
    expect(ids(s)).toEqual(['50', '51']);
    expect(s.messages['7']).toMatchObject({ olderCursor: 'c50', hasOlder: true });
  });

  it('keeps messages that arrived live before the first page', () => {
    const s = withRoom(
      { type: 'event', event: added(msg(12)), now: T0 },
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(10), msg(11)], olderCursor: 'c10', hasOlder: false },
    );
    expect(ids(s)).toEqual(['10', '11', '12']);
    expect(s.rooms['7'].lastMessage?.id).toBe('12');
  });

  it('an empty room is loaded with nothing older', () => {
    const s = withRoom({ type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [], olderCursor: null, hasOlder: false });
    expect(s.messages['7']).toMatchObject({ items: [], loaded: true, hasOlder: false });
  });
});

describe('MessageAdded', () => {
  it('appends in id order and ignores a duplicate delivery', () => {
    const base = withRoom({ type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(10)], olderCursor: null, hasOlder: false });
    const s = run(base, { type: 'event', event: added(msg(12)), now: T0 }, { type: 'event', event: added(msg(11)), now: T0 }, { type: 'event', event: added(msg(12)), now: T0 });
    expect(ids(s)).toEqual(['10', '11', '12']);
  });

  it('updates the room preview only forward', () => {
    const s = withRoom({ type: 'event', event: added(msg(12)), now: T0 }, { type: 'event', event: added(msg(11)), now: T0 });
    expect(s.rooms['7'].lastMessage?.id).toBe('12');
  });

  it('counts unread messages from others in rooms that are not open, once per message', () => {
    let s = withRoom({ type: 'roomsLoaded', rooms: [room(8)] }, { type: 'roomOpened', roomId: '8' });
    s = run(s, { type: 'event', event: added(msg(1)), now: T0 }, { type: 'event', event: added(msg(1)), now: T0 });
    s = run(s, { type: 'event', event: added(msg(2, { author: alice })), now: T0 });
    s = run(s, { type: 'event', event: added(msg(3, { roomId: '8' })), now: T0 });
    expect(s.rooms['7'].unread).toBe(1);
    expect(s.rooms['8'].unread).toBe(0);
    s = run(s, { type: 'roomOpened', roomId: '7' });
    expect(s.rooms['7'].unread).toBe(0);
  });

  it('clears the author from the typing list', () => {
    const s = withRoom(
      { type: 'event', event: { __typename: 'Typing', roomId: '7', user: bob }, now: T0 },
      { type: 'event', event: added(msg(1)), now: T0 + 10 },
    );
    expect(typingUsers(s, '7', T0 + 20)).toEqual([]);
  });

  it('keeps messages of rooms not yet listed', () => {
    const s = run(initialState(alice), { type: 'event', event: added(msg(1, { roomId: '99' })), now: T0 });
    expect(ids(s, '99')).toEqual(['1']);
    expect(s.rooms['99']).toBeUndefined();
  });
});

describe('room ordering', () => {
  it('lists member rooms most recently active first and reorders as messages arrive', () => {
    let s = run(initialState(alice), {
      type: 'roomsLoaded',
      rooms: [
        room(1, { lastMessage: msg(5, { roomId: '1' }) }),
        room(2, { lastMessage: msg(3, { roomId: '2' }) }),
        room(3, { isMember: false, lastMessage: msg(9, { roomId: '3' }) }),
        room(4),
      ],
    });
    expect(myRooms(s).map((r) => r.id)).toEqual(['1', '2', '4']);
    s = run(s, { type: 'event', event: added(msg(20, { roomId: '4' })), now: T0 });
    expect(myRooms(s).map((r) => r.id)).toEqual(['4', '1', '2']);
    s = run(s, { type: 'event', event: added(msg(21, { roomId: '2' })), now: T0 });
    expect(myRooms(s).map((r) => r.id)).toEqual(['2', '4', '1']);
  });

  it('an optimistic send moves its room to the top', () => {
    let s = run(initialState(alice), {
      type: 'roomsLoaded',
      rooms: [room(1, { lastMessage: msg(5, { roomId: '1' }) }), room(2)],
    });
    s = run(s, { type: 'sendStarted', roomId: '2', clientId: 'c1', content: 'hi', now: T0 });
    expect(myRooms(s)[0].id).toBe('2');
  });

  it('a room list fetched before a live event does not roll the preview back', () => {
    let s = withRoom({ type: 'event', event: added(msg(30)), now: T0 });
    s = run(s, { type: 'roomsLoaded', rooms: [room(7, { lastMessage: msg(29), memberCount: 3 })] });
    expect(s.rooms['7'].lastMessage?.id).toBe('30');
    expect(s.rooms['7'].memberCount).toBe(3);
  });
});

describe('optimistic sends', () => {
  const start: ChatAction = { type: 'sendStarted', roomId: '7', clientId: 'c-1', content: 'hello', now: T0 };
  const confirmed = msg(40, { author: alice, content: 'hello', clientId: 'c-1' });

  it('shows a pending message at the end', () => {
    const s = withRoom(
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(10)], olderCursor: null, hasOlder: false },
      start,
    );
    const items = s.messages['7'].items;
    expect(items.map((m) => m.status)).toEqual(['sent', 'pending']);
    expect(items[1]).toMatchObject({ content: 'hello', clientId: 'c-1', author: alice });
  });

  it('reconciles by clientId when the ack comes first, then the event', () => {
    const s = withRoom(start, { type: 'sendSucceeded', roomId: '7', clientId: 'c-1', message: confirmed }, { type: 'event', event: added(confirmed), now: T0 });
    expect(s.messages['7'].items).toHaveLength(1);
    expect(s.messages['7'].items[0]).toMatchObject({ id: '40', status: 'sent' });
    expect(s.rooms['7'].lastMessage?.id).toBe('40');
  });

  it('reconciles by clientId when the event comes first, then the ack', () => {
    const s = withRoom(start, { type: 'event', event: added(confirmed), now: T0 }, { type: 'sendSucceeded', roomId: '7', clientId: 'c-1', message: confirmed });
    expect(ids(s)).toEqual(['40']);
  });

  it('does not count my own confirmed message as unread', () => {
    const s = withRoom({ type: 'roomOpened', roomId: null }, start, { type: 'event', event: added(confirmed), now: T0 });
    expect(s.rooms['7'].unread).toBe(0);
  });

  it('orders the confirmed message by id among messages that came meanwhile', () => {
    const s = withRoom(start, { type: 'event', event: added(msg(41)), now: T0 }, { type: 'sendSucceeded', roomId: '7', clientId: 'c-1', message: confirmed });
    expect(ids(s)).toEqual(['40', '41']);
  });

  it('keeps pending messages after confirmed ones', () => {
    const s = withRoom(start, { type: 'event', event: added(msg(41)), now: T0 });
    expect(s.messages['7'].items.map((m) => m.status)).toEqual(['sent', 'pending']);
  });

  it('a failed send can be retried with the same clientId and never shows twice', () => {
    let s = withRoom(start, { type: 'sendFailed', roomId: '7', clientId: 'c-1', error: 'offline' });
    expect(s.messages['7'].items[0]).toMatchObject({ status: 'failed', error: 'offline' });
    s = run(s, { type: 'sendRetried', roomId: '7', clientId: 'c-1' });
    expect(s.messages['7'].items[0]).toMatchObject({ status: 'pending' });
    s = run(s, { type: 'sendStarted', roomId: '7', clientId: 'c-1', content: 'hello', now: T0 + 1 });
    expect(s.messages['7'].items).toHaveLength(1);
    s = run(s, { type: 'sendSucceeded', roomId: '7', clientId: 'c-1', message: confirmed }, { type: 'event', event: added(confirmed), now: T0 });
    expect(ids(s)).toEqual(['40']);
  });

  it('a retry after the send was confirmed changes nothing', () => {
    const s1 = withRoom(start, { type: 'sendSucceeded', roomId: '7', clientId: 'c-1', message: confirmed });
    const s2 = run(s1, { type: 'sendStarted', roomId: '7', clientId: 'c-1', content: 'hello', now: T0 });
    expect(s2).toBe(s1);
  });

  it('history that contains the message replaces the pending copy', () => {
    const s = withRoom(start, { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(39), confirmed], olderCursor: null, hasOlder: false });
    expect(ids(s)).toEqual(['39', '40']);
    expect(s.messages['7'].items.every((m) => m.status === 'sent')).toBe(true);
  });

  it('a pending message survives a gap reload', () => {
    const s = withRoom(
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(1)], olderCursor: 'c1', hasOlder: false },
      start,
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(80), msg(81)], olderCursor: 'c80', hasOlder: true },
    );
    expect(s.messages['7'].items.map((m) => m.id)).toEqual(['80', '81', 'local:c-1']);
  });

  it('does not confuse the same clientId of another author', () => {
    const s = withRoom(start, { type: 'event', event: added(msg(41, { clientId: 'c-1', author: bob })), now: T0 });
    expect(s.messages['7'].items.map((m) => m.status)).toEqual(['sent', 'pending']);
  });
});

describe('mergeMessages', () => {
  it('reports which ids are new', () => {
    const first = mergeMessages([], [msg(1), msg(2)]);
    expect(first.added).toEqual(['1', '2']);
    const second = mergeMessages(first.items, [msg(2), msg(3)]);
    expect(second.added).toEqual(['3']);
    expect(second.items.map((m) => m.id)).toEqual(['1', '2', '3']);
  });

  it('keeps one message per author and clientId (the first one)', () => {
    const r = mergeMessages([], [msg(5, { clientId: 'x' }), msg(4, { clientId: 'x' })]);
    expect(r.items.map((m) => m.id)).toEqual(['4']);
  });

  it('returns the same list for no input', () => {
    const items = mergeMessages([], [msg(1)]).items;
    expect(mergeMessages(items, []).items).toBe(items);
  });
});

describe('membership events', () => {
  it('MemberJoined and MemberLeft update the member count', () => {
    let s = withRoom({ type: 'event', event: { __typename: 'MemberJoined', roomId: '7', user: bob, memberCount: 2 }, now: T0 });
    expect(s.rooms['7']).toMatchObject({ memberCount: 2, isMember: true });
    s = run(s, { type: 'event', event: { __typename: 'MemberLeft', roomId: '7', user: bob, memberCount: 1 }, now: T0 });
    expect(s.rooms['7']).toMatchObject({ memberCount: 1, isMember: true });
  });

  it('my own MemberLeft / MemberJoined flips isMember', () => {
    let s = withRoom({ type: 'event', event: { __typename: 'MemberLeft', roomId: '7', user: alice, memberCount: 0 }, now: T0 });
    expect(s.rooms['7'].isMember).toBe(false);
    expect(myRooms(s)).toEqual([]);
    s = run(s, { type: 'event', event: { __typename: 'MemberJoined', roomId: '7', user: alice, memberCount: 1 }, now: T0 });
    expect(s.rooms['7'].isMember).toBe(true);
  });

  it('MemberLeft removes the user from the online list and the typing list', () => {
    const s = withRoom(
      { type: 'onlineLoaded', roomId: '7', users: [alice, bob] },
      { type: 'event', event: { __typename: 'Typing', roomId: '7', user: bob }, now: T0 },
      { type: 'event', event: { __typename: 'MemberLeft', roomId: '7', user: bob, memberCount: 1 }, now: T0 },
    );
    expect(s.online['7']).toEqual([alice]);
    expect(typingUsers(s, '7', T0)).toEqual([]);
  });
});

describe('typing', () => {
  it('shows others typing for a few seconds', () => {
    const s = withRoom({ type: 'event', event: { __typename: 'Typing', roomId: '7', user: bob }, now: T0 });
    expect(typingUsers(s, '7', T0 + 1)).toEqual([bob]);
    expect(typingUsers(s, '7', T0 + TYPING_TTL_MS + 1)).toEqual([]);
  });

  it('a repeated Typing event extends the time', () => {
    const s = withRoom(
      { type: 'event', event: { __typename: 'Typing', roomId: '7', user: bob }, now: T0 },
      { type: 'event', event: { __typename: 'Typing', roomId: '7', user: bob }, now: T0 + 2000 },
    );
    expect(typingUsers(s, '7', T0 + TYPING_TTL_MS + 500)).toEqual([bob]);
  });

  it('ignores my own typing', () => {
    const s = withRoom({ type: 'event', event: { __typename: 'Typing', roomId: '7', user: alice }, now: T0 });
    expect(typingUsers(s, '7', T0)).toEqual([]);
  });

  it('typingExpired prunes old entries and is a no-op otherwise', () => {
    const s = withRoom({ type: 'event', event: { __typename: 'Typing', roomId: '7', user: bob }, now: T0 });
    expect(run(s, { type: 'typingExpired', now: T0 + 1 })).toBe(s);
    const pruned = run(s, { type: 'typingExpired', now: T0 + TYPING_TTL_MS });
    expect(pruned.typing['7']).toBeUndefined();
  });
});

describe('lists and misc', () => {
  it('search results keep server order and include non-members', () => {
    const s = run(initialState(alice), {
      type: 'searchLoaded',
      query: 'gen',
      rooms: [room(5, { isMember: false }), room(2)],
    });
    expect(searchResults(s)?.map((r) => r.id)).toEqual(['5', '2']);
    expect(searchResults(run(s, { type: 'searchCleared' }))).toBeNull();
  });

  it('discover lists only rooms not joined', () => {
    let s = run(initialState(alice), { type: 'discoverLoaded', rooms: [room(5, { isMember: false }), room(6)] });
    expect(discoverRooms(s).map((r) => r.id)).toEqual(['5']);
    s = run(s, { type: 'roomUpserted', room: room(5, { isMember: true, memberCount: 2 }) });
    expect(discoverRooms(s)).toEqual([]);
    expect(myRooms(s).map((r) => r.id).sort()).toEqual(['5', '6']);
  });

  it('lastSeenId is the newest confirmed message', () => {
    const s = withRoom(
      { type: 'historyLoaded', roomId: '7', kind: 'latest', messages: [msg(3), msg(4)], olderCursor: null, hasOlder: false },
      { type: 'sendStarted', roomId: '7', clientId: 'z', content: 'x', now: T0 },
    );
    expect(lastSeenId(s, '7')).toBe('4');
    expect(lastSeenId(s, 'nope')).toBeNull();
  });

  it('onlineUnsupported hides online lists for good', () => {
    const s = withRoom({ type: 'onlineLoaded', roomId: '7', users: [alice] }, { type: 'onlineUnsupported' });
    expect(s.onlineSupported).toBe(false);
    expect(s.online).toEqual({});
  });

  it('notices count up so the same text shows again', () => {
    const s = run(initialState(alice), { type: 'notice', text: 'x' }, { type: 'notice', text: 'x' });
    expect(s.notice).toEqual({ id: 2, text: 'x' });
    expect(run(s, { type: 'notice', text: null }).notice).toBeNull();
  });

  it('reset clears everything but the user', () => {
    const s = run(withRoom(), { type: 'reset', me: bob });
    expect(s).toEqual(initialState(bob));
  });
});
