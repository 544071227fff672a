/**
 * The client's chat state and the pure reducer that applies server answers, realtime events and
 * local sends to it. Everything here is deterministic: time comes in with the actions.
 */
import type { Message, Room, RoomEvent, User } from '../lib/types';
import { compareIds, timeOf } from './ids';

export type MessageStatus = 'sent' | 'pending' | 'failed';

/** A message as shown: confirmed by the server (`sent`) or still local (`pending`, `failed`). */
export interface ChatMessage extends Message {
  status: MessageStatus;
  error?: string;
}

/** A room as listed, with what the list needs to order and badge it. */
export interface RoomSummary extends Room {
  /** Unix ms of the last message (or of creation): the list's sort key. */
  activity: number;
  unread: number;
}

export interface RoomMessages {
  /** Confirmed messages ordered by id, then local ones in send order. */
  items: ChatMessage[];
  /** Cursor for the next `messages(before:)` page; null when unknown. */
  olderCursor: string | null;
  hasOlder: boolean;
  /** True once a history page has been merged. */
  loaded: boolean;
}

export interface TypingEntry {
  user: User;
  until: number;
}

export interface ChatState {
  me: User | null;
  rooms: Record<string, RoomSummary>;
  messages: Record<string, RoomMessages>;
  typing: Record<string, Record<string, TypingEntry>>;
  /** Who is online per room; absent until loaded. */
  online: Record<string, User[]>;
  /** False once the server showed it has no `Room.online`. */
  onlineSupported: boolean;
  activeRoomId: string | null;
  /** The search box's query and the IDs it found (null: not searched). */
  search: { query: string; ids: string[] | null };
  /** Rooms to discover (not a member) shown under the user's own. */
  discoverIds: string[];
  /** State of the realtime stream. */
  connection: ConnectionStatus;
  /** A message for the user (an error of a background action), newest only. */
  notice: { id: number; text: string } | null;
}

export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped';

/** How long a `Typing` event keeps its user shown. */
export const TYPING_TTL_MS = 3_000;

export type ChatAction =
  | { type: 'reset'; me: User | null }
  | { type: 'roomsLoaded'; rooms: Room[] }
  | { type: 'discoverLoaded'; rooms: Room[] }
  | { type: 'searchLoaded'; query: string; rooms: Room[] }
  | { type: 'searchCleared' }
  | { type: 'roomUpserted'; room: Room }
  | { type: 'roomOpened'; roomId: string | null }
  | {
      type: 'historyLoaded';
      roomId: string;
      messages: Message[];
      olderCursor: string | null;
      hasOlder: boolean;
      /** `latest`: the newest page (first load or resync); `older`: a page before the oldest. */
      kind: 'latest' | 'older';
    }
  | { type: 'event'; event: RoomEvent; now: number }
  | { type: 'sendStarted'; roomId: string; clientId: string; content: string; now: number }
  | { type: 'sendSucceeded'; roomId: string; clientId: string; message: Message }
  | { type: 'sendFailed'; roomId: string; clientId: string; error: string }
  | { type: 'sendRetried'; roomId: string; clientId: string }
  | { type: 'onlineLoaded'; roomId: string; users: User[] }
  | { type: 'onlineUnsupported' }
  | { type: 'typingExpired'; now: number }
  | { type: 'connection'; status: ConnectionStatus }
  | { type: 'notice'; text: string | null };

export function initialState(me: User | null = null): ChatState {
  return {
    me,
    rooms: {},
    messages: {},
    typing: {},
    online: {},
    onlineSupported: true,
    activeRoomId: null,
    search: { query: '', ids: null },
    discoverIds: [],
    connection: 'stopped',
    notice: null,
  };
}

function emptyMessages(): RoomMessages {
  return { items: [], olderCursor: null, hasOlder: false, loaded: false };
}

function sent(m: Message): ChatMessage {
  return { ...m, id: String(m.id), roomId: String(m.roomId), clientId: m.clientId ?? null, status: 'sent' };
}

/** Orders confirmed messages by id and keeps local ones after them, in their current order. */
function sortItems(items: ChatMessage[]): ChatMessage[] {
  const confirmed = items.filter((m) => m.status === 'sent').sort((a, b) => compareIds(a.id, b.id));
  const local = items.filter((m) => m.status !== 'sent');
  return confirmed.concat(local);
}

/**
 * Merges confirmed messages into a list: a message already there (same id) is replaced, and a
 * local message with the same author and `clientId` gives way to its confirmed twin. Returns the
 * new list and the ids that were not there before.
 */
export function mergeMessages(items: ChatMessage[], incoming: Message[]): { items: ChatMessage[]; added: string[] } {
  if (incoming.length === 0) return { items, added: [] };
  const byId = new Map<string, ChatMessage>();
  const local: ChatMessage[] = [];
  for (const m of items) {
    if (m.status === 'sent') byId.set(m.id, m);
    else local.push(m);
  }
  const added: string[] = [];
  let localLeft = local;
  for (const raw of incoming) {
    const m = sent(raw);
    if (!byId.has(m.id)) added.push(m.id);
    byId.set(m.id, m);
    if (m.clientId) {
      localLeft = localLeft.filter((l) => !(l.clientId === m.clientId && l.author.id === m.author.id));
    }
  }
  // A confirmed message whose clientId matches another confirmed one of the same author is the
  // same send (the server keeps the first): keep the lowest id only.
  const seen = new Map<string, string>();
  for (const m of [...byId.values()].sort((a, b) => compareIds(a.id, b.id))) {
    if (!m.clientId) continue;
    const key = `${m.author.id}\u0000${m.clientId}`;
    if (seen.has(key)) {
      byId.delete(m.id);
      const i = added.indexOf(m.id);
      if (i >= 0) added.splice(i, 1);
    } else seen.set(key, m.id);
  }
  return { items: sortItems([...byId.values(), ...localLeft]), added };
}

function activityOf(room: Room): number {
  return Math.max(timeOf(room.lastMessage?.createdAt), timeOf(room.createdAt));
}

function summarize(room: Room, prev: RoomSummary | undefined): RoomSummary {
  const r: Room = {
    id: String(room.id),
    name: room.name,
    createdAt: room.createdAt,
    memberCount: room.memberCount,
    isMember: room.isMember,
    lastMessage: room.lastMessage ? sent(room.lastMessage) : null,
  };
  // Never step back: a list fetched before a live event must not hide that event.
  if (prev?.lastMessage && (!r.lastMessage || compareIds(prev.lastMessage.id, r.lastMessage.id) > 0)) {
    r.lastMessage = prev.lastMessage;
  }
  return {
    ...r,
    activity: Math.max(activityOf(r), prev?.activity ?? 0),
    unread: prev?.unread ?? 0,
  };
}

function upsertRooms(state: ChatState, rooms: Room[]): Record<string, RoomSummary> {
  if (rooms.length === 0) return state.rooms;
  const next = { ...state.rooms };
  for (const room of rooms) {
    const id = String(room.id);
    let r = summarize(room, next[id]);
    // Messages that arrived live before the room was known still count as its latest.
    const held = state.messages[id] && newestConfirmed(state.messages[id].items);
    if (held && (!r.lastMessage || compareIds(held.id, r.lastMessage.id) > 0)) {
      r = { ...r, lastMessage: held, activity: Math.max(r.activity, timeOf(held.createdAt)) };
    }
    next[id] = r;
  }
  return next;
}

function withRoomMessages(state: ChatState, roomId: string, f: (rm: RoomMessages) => RoomMessages): ChatState {
  const rm = state.messages[roomId] ?? emptyMessages();
  return { ...state, messages: { ...state.messages, [roomId]: f(rm) } };
}

function newestConfirmed(items: ChatMessage[]): ChatMessage | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (items[i].status === 'sent') return items[i];
  return undefined;
}

/** The highest activity of any room: a live event goes above it, whatever the clocks say. */
function topActivity(state: ChatState): number {
  let top = 0;
  for (const r of Object.values(state.rooms)) if (r.activity > top) top = r.activity;
  return top;
}

/**
 * Moves a room's last message forward when `m` is newer. `live` puts the room on top of the
 * list (it just had activity), independent of clock differences between server and browser.
 */
function bumpRoom(state: ChatState, m: ChatMessage, live: boolean, countUnread: boolean): ChatState {
  const room = state.rooms[m.roomId];
  if (!room) return state;
  const isNewer = !room.lastMessage || compareIds(m.id, room.lastMessage.id) > 0;
  const unread = countUnread ? room.unread + 1 : room.unread;
  if (!isNewer && unread === room.unread) return state;
  let activity = room.activity;
  if (isNewer) {
    activity = Math.max(activity, timeOf(m.createdAt));
    if (live) activity = Math.max(activity, topActivity(state) + 1);
  }
  return {
    ...state,
    rooms: {
      ...state.rooms,
      [m.roomId]: { ...room, lastMessage: isNewer ? m : room.lastMessage, activity, unread },
    },
  };
}

function dropTyping(state: ChatState, roomId: string, userId: string): ChatState {
  const t = state.typing[roomId];
  if (!t || !t[userId]) return state;
  const { [userId]: _gone, ...rest } = t;
  return { ...state, typing: { ...state.typing, [roomId]: rest } };
}

function applyEvent(state: ChatState, event: RoomEvent, now: number): ChatState {
  const roomId = String(event.roomId);
  switch (event.__typename) {
    case 'MessageAdded': {
      const m = sent({ ...event.message, roomId: String(event.message.roomId ?? roomId) });
      let added = false;
      let s = withRoomMessages(state, m.roomId, (rm) => {
        const r = mergeMessages(rm.items, [m]);
        added = r.added.length > 0;
        return { ...rm, items: r.items };
      });
      const fromOther = !state.me || m.author.id !== state.me.id;
      s = bumpRoom(s, m, added, added && fromOther && state.activeRoomId !== m.roomId);
      return dropTyping(s, m.roomId, m.author.id);
    }
    case 'MemberJoined':
    case 'MemberLeft': {
      const joined = event.__typename === 'MemberJoined';
      const isMe = !!state.me && event.user.id === state.me.id;
      let s = state;
      const room = state.rooms[roomId];
      if (room) {
        s = {
          ...s,
          rooms: {
            ...s.rooms,
            [roomId]: { ...room, memberCount: event.memberCount, isMember: isMe ? joined : room.isMember },
          },
        };
      }
      if (!joined) {
        const online = s.online[roomId];
        if (online?.some((u) => u.id === event.user.id)) {
          s = { ...s, online: { ...s.online, [roomId]: online.filter((u) => u.id !== event.user.id) } };
        }
        s = dropTyping(s, roomId, event.user.id);
      }
      return s;
    }
    case 'Typing': {
      if (state.me && event.user.id === state.me.id) return state;
      const t = state.typing[roomId] ?? {};
      return {
        ...state,
        typing: { ...state.typing, [roomId]: { ...t, [event.user.id]: { user: event.user, until: now + TYPING_TTL_MS } } },
      };
    }
  }
  return state;
}

function updateLocal(
  state: ChatState,
  roomId: string,
  clientId: string,
  f: (m: ChatMessage) => ChatMessage,
): ChatState {
  const rm = state.messages[roomId];
  if (!rm || !rm.items.some((m) => m.status !== 'sent' && m.clientId === clientId)) return state;
  return withRoomMessages(state, roomId, (r) => ({
    ...r,
    items: r.items.map((m) => (m.status !== 'sent' && m.clientId === clientId ? f(m) : m)),
  }));
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'reset':
      return initialState(action.me);

    case 'roomsLoaded':
      return { ...state, rooms: upsertRooms(state, action.rooms) };

    case 'discoverLoaded':
      return {
        ...state,
        rooms: upsertRooms(state, action.rooms),
        discoverIds: action.rooms.map((r) => String(r.id)),
      };

    case 'searchLoaded':
      return {
        ...state,
        rooms: upsertRooms(state, action.rooms),
        search: { query: action.query, ids: action.rooms.map((r) => String(r.id)) },
      };

    case 'searchCleared':
      return { ...state, search: { query: '', ids: null } };

    case 'roomUpserted':
      return { ...state, rooms: upsertRooms(state, [action.room]) };

    case 'roomOpened': {
      const id = action.roomId;
      let s: ChatState = { ...state, activeRoomId: id };
      if (id && s.rooms[id]?.unread) s = { ...s, rooms: { ...s.rooms, [id]: { ...s.rooms[id], unread: 0 } } };
      return s;
    }

    case 'historyLoaded': {
      const { roomId, kind } = action;
      let s = withRoomMessages(state, roomId, (rm) => {
        const page = action.messages.map(sent).sort((a, b) => compareIds(a.id, b.id));
        if (kind === 'older') {
          return {
            ...rm,
            items: mergeMessages(rm.items, page).items,
            olderCursor: action.olderCursor,
            hasOlder: action.hasOlder,
          };
        }
        const have = newestConfirmed(rm.items);
        const fresh = !rm.loaded || !have;
        // The newest page does not reach what we hold: there is a gap, so start over from it.
        const gap = !fresh && page.length > 0 && action.hasOlder && compareIds(page[0].id, have!.id) > 0;
        if (fresh || gap) {
          const base = gap ? rm.items.filter((m) => m.status !== 'sent') : rm.items;
          return {
            items: mergeMessages(base, page).items,
            olderCursor: action.olderCursor,
            hasOlder: action.hasOlder,
            loaded: true,
          };
        }
        return { ...rm, items: mergeMessages(rm.items, page).items, loaded: true };
      });
      const newest = action.messages.length
        ? action.messages.reduce((a, b) => (compareIds(String(a.id), String(b.id)) >= 0 ? a : b))
        : undefined;
      if (newest) s = bumpRoom(s, sent(newest), false, false);
      return s;
    }

    case 'event':
      return applyEvent(state, action.event, action.now);

    case 'sendStarted': {
      const me = state.me ?? { id: '', username: '' };
      const rm = state.messages[action.roomId];
      // A retry reuses the clientId: never show the same send twice.
      if (rm?.items.some((m) => m.clientId === action.clientId && m.author.id === me.id)) {
        return updateLocal(state, action.roomId, action.clientId, (m) => ({ ...m, status: 'pending', error: undefined }));
      }
      const local: ChatMessage = {
        id: `local:${action.clientId}`,
        roomId: action.roomId,
        author: me,
        content: action.content,
        createdAt: new Date(action.now).toISOString(),
        clientId: action.clientId,
        status: 'pending',
      };
      let s = withRoomMessages(state, action.roomId, (r) => ({ ...r, items: [...r.items, local] }));
      const room = s.rooms[action.roomId];
      if (room) {
        const activity = Math.max(room.activity, topActivity(s) + 1);
        s = { ...s, rooms: { ...s.rooms, [action.roomId]: { ...room, activity } } };
      }
      return s;
    }

    case 'sendSucceeded': {
      const m = sent(action.message);
      let s = withRoomMessages(state, action.roomId, (rm) => {
        // Whatever arrived first (ack or event), the local copy goes and the confirmed one stays.
        const items = rm.items.filter((x) => !(x.status !== 'sent' && x.clientId === action.clientId));
        return { ...rm, items: mergeMessages(items, [m]).items };
      });
      return bumpRoom(s, m, false, false);
    }

    case 'sendFailed':
      return updateLocal(state, action.roomId, action.clientId, (m) => ({ ...m, status: 'failed', error: action.error }));

    case 'sendRetried':
      return updateLocal(state, action.roomId, action.clientId, (m) => ({ ...m, status: 'pending', error: undefined }));

    case 'onlineLoaded':
      return { ...state, online: { ...state.online, [action.roomId]: action.users } };

    case 'onlineUnsupported':
      return { ...state, onlineSupported: false, online: {} };

    case 'connection':
      return state.connection === action.status ? state : { ...state, connection: action.status };

    case 'notice':
      return {
        ...state,
        notice: action.text === null ? null : { id: (state.notice?.id ?? 0) + 1, text: action.text },
      };

    case 'typingExpired': {
      let changed = false;
      const typing: ChatState['typing'] = {};
      for (const [roomId, users] of Object.entries(state.typing)) {
        const keep: Record<string, TypingEntry> = {};
        for (const [uid, e] of Object.entries(users)) {
          if (e.until > action.now) keep[uid] = e;
          else changed = true;
        }
        if (Object.keys(keep).length) typing[roomId] = keep;
        else if (Object.keys(users).length === 0) changed = true;
      }
      return changed ? { ...state, typing } : state;
    }
  }
  return state;
}

/** Rooms the viewer belongs to, most recently active first. */
export function myRooms(state: Pick<ChatState, 'rooms'>): RoomSummary[] {
  return sortRooms(Object.values(state.rooms).filter((r) => r.isMember));
}

/** Orders rooms by last activity, newest first. */
export function sortRooms(rooms: RoomSummary[]): RoomSummary[] {
  return [...rooms].sort((a, b) => b.activity - a.activity || compareIds(b.id, a.id));
}

/** The rooms of the last search (server order), or null when the search box is empty. */
export function searchResults(state: Pick<ChatState, 'rooms' | 'search'>): RoomSummary[] | null {
  if (state.search.ids === null) return null;
  return state.search.ids.map((id) => state.rooms[id]).filter((r): r is RoomSummary => !!r);
}

/** Rooms to discover that the viewer has not joined. */
export function discoverRooms(state: Pick<ChatState, 'rooms' | 'discoverIds'>): RoomSummary[] {
  return state.discoverIds.map((id) => state.rooms[id]).filter((r): r is RoomSummary => !!r && !r.isMember);
}

/** Users typing in a room at `now`. */
export function typingUsers(state: Pick<ChatState, 'typing'>, roomId: string, now: number): User[] {
  const t = state.typing[roomId];
  if (!t) return [];
  return Object.values(t)
    .filter((e) => e.until > now)
    .map((e) => e.user)
    .sort((a, b) => a.username.localeCompare(b.username));
}

/** The id of the newest confirmed message of a room, if any. */
export function lastSeenId(state: ChatState, roomId: string): string | null {
  const rm = state.messages[roomId];
  return rm ? (newestConfirmed(rm.items)?.id ?? null) : null;
}
