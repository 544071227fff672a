import type { Message, Room, User } from '../lib/types';

export const alice: User = { id: '1', username: 'alice' };
export const bob: User = { id: '2', username: 'bob' };

export function msg(id: number | string, opts: Partial<Message> = {}): Message {
  return {
    id: String(id),
    roomId: '7',
    author: bob,
    content: `m${id}`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, Number(id) || 0)).toISOString(),
    clientId: null,
    ...opts,
  };
}

export function room(id: number | string, opts: Partial<Room> = {}): Room {
  return {
    id: String(id),
    name: `room ${id}`,
    createdAt: '2026-01-01T00:00:00Z',
    memberCount: 1,
    isMember: true,
    lastMessage: null,
    ...opts,
  };
}
