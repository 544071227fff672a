/**
 * Every GraphQL operation the client sends. Kept in one file so the server side can check them
 * against its schema.
 */

export const USER_FIELDS = /* GraphQL */ `
  fragment UserFields on User { id username }
`;

export const MESSAGE_FIELDS = /* GraphQL */ `
  fragment MessageFields on Message {
    id roomId content createdAt clientId
    author { ...UserFields }
  }
  ${USER_FIELDS}
`;

export const ROOM_FIELDS = /* GraphQL */ `
  fragment RoomFields on Room {
    id name createdAt memberCount isMember
    lastMessage { ...MessageFields }
  }
  ${MESSAGE_FIELDS}
`;

const AUTH_FIELDS = /* GraphQL */ `
  fragment AuthFields on AuthPayload {
    accessToken refreshToken expiresIn
    user { ...UserFields }
  }
  ${USER_FIELDS}
`;

export const REGISTER = /* GraphQL */ `
  mutation Register($username: String!, $password: String!) {
    register(username: $username, password: $password) { ...AuthFields }
  }
  ${AUTH_FIELDS}
`;

export const LOGIN = /* GraphQL */ `
  mutation Login($username: String!, $password: String!) {
    login(username: $username, password: $password) { ...AuthFields }
  }
  ${AUTH_FIELDS}
`;

export const REFRESH_TOKEN = /* GraphQL */ `
  mutation RefreshToken($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) { ...AuthFields }
  }
  ${AUTH_FIELDS}
`;

export const ME = /* GraphQL */ `
  query Me { me { ...UserFields } }
  ${USER_FIELDS}
`;

export const ROOMS = /* GraphQL */ `
  query Rooms($first: Int = 20, $search: String, $memberOnly: Boolean = false) {
    rooms(first: $first, search: $search, memberOnly: $memberOnly) {
      edges { cursor node { ...RoomFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
  ${ROOM_FIELDS}
`;

export const ROOM = /* GraphQL */ `
  query Room($id: ID!) { room(id: $id) { ...RoomFields } }
  ${ROOM_FIELDS}
`;

/** `Room.online` is a server extension; a failure of this query only hides the online list. */
export const ROOM_ONLINE = /* GraphQL */ `
  query RoomOnline($id: ID!) { room(id: $id) { id online { ...UserFields } } }
  ${USER_FIELDS}
`;

export const MESSAGES = /* GraphQL */ `
  query Messages($roomId: ID!, $last: Int = 50, $before: String) {
    messages(roomId: $roomId, last: $last, before: $before) {
      edges { cursor node { ...MessageFields } }
      pageInfo { hasPreviousPage startCursor }
    }
  }
  ${MESSAGE_FIELDS}
`;

export const CREATE_ROOM = /* GraphQL */ `
  mutation CreateRoom($name: String!) { createRoom(name: $name) { ...RoomFields } }
  ${ROOM_FIELDS}
`;

export const JOIN_ROOM = /* GraphQL */ `
  mutation JoinRoom($roomId: ID!) { joinRoom(roomId: $roomId) { ...RoomFields } }
  ${ROOM_FIELDS}
`;

export const LEAVE_ROOM = /* GraphQL */ `
  mutation LeaveRoom($roomId: ID!) { leaveRoom(roomId: $roomId) { ...RoomFields } }
  ${ROOM_FIELDS}
`;

export const SEND_MESSAGE = /* GraphQL */ `
  mutation SendMessage($roomId: ID!, $content: String!, $clientId: String) {
    sendMessage(roomId: $roomId, content: $content, clientId: $clientId) { ...MessageFields }
  }
  ${MESSAGE_FIELDS}
`;

export const SEND_TYPING = /* GraphQL */ `
  mutation SendTyping($roomId: ID!) { sendTyping(roomId: $roomId) }
`;

export const REALTIME = /* GraphQL */ `
  query Realtime { realtime { mode centrifugoUrl connectionToken personalChannel } }
`;

export const REALTIME_TOKEN = /* GraphQL */ `
  query RealtimeToken { realtime { connectionToken } }
`;

/** Subscription token for the room's Centrifugo channel `room:<id>` (Centrifugo mode, members only). */
export const ROOM_CHANNEL_TOKEN = /* GraphQL */ `
  query RoomChannelToken($roomId: ID!) { roomChannelToken(roomId: $roomId) { channel token } }
`;

const EVENT_FIELDS = /* GraphQL */ `
  fragment EventFields on RoomEvent {
    __typename
    ... on MessageAdded { roomId message { ...MessageFields } }
    ... on MemberJoined { roomId memberCount user { ...UserFields } }
    ... on MemberLeft { roomId memberCount user { ...UserFields } }
    ... on Typing { roomId user { ...UserFields } }
  }
  ${MESSAGE_FIELDS}
`;

export const MY_EVENTS = /* GraphQL */ `
  subscription MyEvents { myEvents { ...EventFields } }
  ${EVENT_FIELDS}
`;
