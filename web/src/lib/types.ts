/** Shapes of the GraphQL types the client selects (see docs/api.md). */

export interface User {
  id: string;
  username: string;
}

export interface Message {
  id: string;
  roomId: string;
  author: User;
  content: string;
  createdAt: string;
  clientId: string | null;
}

export interface Room {
  id: string;
  name: string;
  createdAt: string;
  memberCount: number;
  isMember: boolean;
  lastMessage: Message | null;
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
}

export interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  user: User;
}

export type RealtimeMode = 'CENTRIFUGO' | 'IN_PROCESS';

export interface RealtimeInfo {
  mode: RealtimeMode;
  centrifugoUrl: string | null;
  connectionToken: string | null;
  personalChannel: string;
}

export interface MessageAdded {
  __typename: 'MessageAdded';
  roomId: string;
  message: Message;
}

export interface MemberJoined {
  __typename: 'MemberJoined';
  roomId: string;
  user: User;
  memberCount: number;
}

export interface MemberLeft {
  __typename: 'MemberLeft';
  roomId: string;
  user: User;
  memberCount: number;
}

export interface Typing {
  __typename: 'Typing';
  roomId: string;
  user: User;
}

/** One member of the `RoomEvent` union, as `roomEvents`/`myEvents` and Centrifugo deliver it. */
export type RoomEvent = MessageAdded | MemberJoined | MemberLeft | Typing;

const EVENT_TYPES = new Set(['MessageAdded', 'MemberJoined', 'MemberLeft', 'Typing']);

/** Narrows untrusted JSON (a Centrifugo publication, a subscription payload) to a known event. */
export function asRoomEvent(data: unknown): RoomEvent | null {
  if (!data || typeof data !== 'object') return null;
  const d = data as Record<string, unknown>;
  if (typeof d.__typename !== 'string' || !EVENT_TYPES.has(d.__typename)) return null;
  if (d.roomId === undefined || d.roomId === null) return null;
  const roomId = String(d.roomId);
  switch (d.__typename) {
    case 'MessageAdded': {
      const m = d.message as Record<string, unknown> | undefined;
      if (!m || m.id === undefined || !m.author) return null;
      return { __typename: 'MessageAdded', roomId, message: normalizeMessage(m, roomId) };
    }
    case 'MemberJoined':
    case 'MemberLeft': {
      const user = asUser(d.user);
      if (!user) return null;
      return { __typename: d.__typename, roomId, user, memberCount: Number(d.memberCount ?? 0) };
    }
    case 'Typing': {
      const user = asUser(d.user);
      if (!user) return null;
      return { __typename: 'Typing', roomId, user };
    }
  }
  return null;
}

function asUser(u: unknown): User | null {
  if (!u || typeof u !== 'object') return null;
  const o = u as Record<string, unknown>;
  if (o.id === undefined || o.id === null) return null;
  return { id: String(o.id), username: String(o.username ?? '') };
}

function normalizeMessage(m: Record<string, unknown>, roomId: string): Message {
  return {
    id: String(m.id),
    roomId: m.roomId !== undefined && m.roomId !== null ? String(m.roomId) : roomId,
    author: asUser(m.author) ?? { id: '', username: '' },
    content: String(m.content ?? ''),
    createdAt: String(m.createdAt ?? ''),
    clientId: typeof m.clientId === 'string' ? m.clientId : null,
  };
}
