import { describe, expect, it } from 'vitest';
import { asRoomEvent } from './types';

describe('asRoomEvent', () => {
  it('accepts the Centrifugo publication of api.md', () => {
    const data = JSON.parse(`{"__typename":"MessageAdded","roomId":"7","message":{"id":"123","roomId":"7",
      "author":{"id":"42","username":"alice","createdAt":"2026-12-04T18:00:00Z"},"content":"hi",
      "createdAt":"2026-12-04T19:00:00Z","clientId":"c-1"}}`);
    expect(asRoomEvent(data)).toEqual({
      __typename: 'MessageAdded',
      roomId: '7',
      message: {
        id: '123',
        roomId: '7',
        author: { id: '42', username: 'alice' },
        content: 'hi',
        createdAt: '2026-12-04T19:00:00Z',
        clientId: 'c-1',
      },
    });
  });

  it('accepts membership and typing events, turning numeric ids into strings', () => {
    expect(asRoomEvent({ __typename: 'MemberJoined', roomId: 7, user: { id: 2, username: 'bob' }, memberCount: 3 })).toEqual({
      __typename: 'MemberJoined',
      roomId: '7',
      user: { id: '2', username: 'bob' },
      memberCount: 3,
    });
    expect(asRoomEvent({ __typename: 'Typing', roomId: '7', user: { id: '2', username: 'bob' } })).toMatchObject({
      __typename: 'Typing',
    });
  });

  it('rejects anything else', () => {
    expect(asRoomEvent(null)).toBeNull();
    expect(asRoomEvent('x')).toBeNull();
    expect(asRoomEvent({ __typename: 'Other', roomId: '1' })).toBeNull();
    expect(asRoomEvent({ __typename: 'MessageAdded', roomId: '1' })).toBeNull();
    expect(asRoomEvent({ __typename: 'Typing', roomId: '1' })).toBeNull();
    expect(asRoomEvent({ __typename: 'Typing', user: { id: '1' } })).toBeNull();
  });
});
